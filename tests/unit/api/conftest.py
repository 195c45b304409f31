"""The API's tests: an organization with keys of each scope, and a client that sends them."""
import pytest

from webhooks import apikeys
from webhooks.models import ApiKey


class Api:
    """The test client with an API key: api.get("/webhooks") calls /api/v1/webhooks."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def call(self, method, path, token=None, headers=None, **kwargs):
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.call("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.call("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def org(factory):
    return factory.org("acme")


@pytest.fixture
def write_key(org):
    return apikeys.create(org, "Integration", ApiKey.WRITE)[1]


@pytest.fixture
def read_key(org):
    return apikeys.create(org, "Dashboard", ApiKey.READ)[1]


@pytest.fixture
def api(client, write_key):
    return Api(client, write_key)


def messages(response):
    """Return {path: message} of an error answer (checking its shape on the way)."""
    body = response.get_json()
    assert set(body) == {"errors"}, body
    return {error["path"]: error["message"] for error in body["errors"]}
