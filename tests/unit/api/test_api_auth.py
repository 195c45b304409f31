"""Who may call the API: an organization's usable key, for its own organization only; read
keys only read; every failure to authenticate answers the same 401."""
from datetime import timedelta

import pytest

from tests.support.deliveries import stored_delivery
from webhooks import apikeys
from webhooks.api.auth import READ_ONLY, UNAUTHORIZED
from webhooks.extensions import db
from webhooks.models import ApiKey, Recovery, Webhook, utcnow

from .conftest import messages

READS = ["/webhooks", "/webhooks/{id}", "/webhooks/{id}/deliveries",
         "/webhooks/{id}/deliveries/{delivery}", "/webhooks/{id}/recoveries/{recovery}",
         "/event-types"]
WRITES = [("POST", "/webhooks"), ("PATCH", "/webhooks/{id}"), ("DELETE", "/webhooks/{id}"),
          ("POST", "/webhooks/{id}/activate"), ("POST", "/webhooks/{id}/deactivate"),
          ("POST", "/webhooks/{id}/test-event"), ("POST", "/webhooks/{id}/secret/rotate"),
          ("POST", "/webhooks/{id}/secret/stop-previous"),
          ("POST", "/webhooks/{id}/deliveries/{delivery}/resend"), ("GET", "/webhooks/{id}/secret"),
          ("POST", "/webhooks/{id}/recoveries/resend-failed"),
          ("POST", "/webhooks/{id}/recoveries/replay-missed"),
          ("POST", "/webhooks/{id}/recoveries/dismiss-missed"),
          ("POST", "/webhooks/{id}/recoveries/{recovery}/cancel")]
BODIES = {"rotate": {}, "test-event": {}, "resend-failed": {"from": "2026-11-01T00:00:00Z",
                                          "to": "2026-11-02T00:00:00Z"}}


def _body(path):
    return BODIES.get(path.rsplit("/", 1)[-1], {"name": "Changed"})


@pytest.fixture
def hook(factory, org):
    webhook = factory.webhook(org, active=False)
    resend = Recovery(webhook_id=webhook.id, kind=Recovery.RESEND)
    db.session.add(resend)
    db.session.commit()
    return {"id": webhook.id, "delivery": stored_delivery(webhook, state="failed").id,
            "recovery": resend.id}


def _unusable_keys(org):
    _, expired_token = apikeys.create(org, "Old", ApiKey.WRITE,
                                      expires_at=utcnow() - timedelta(seconds=1))
    revoked, revoked_token = apikeys.create(org, "Leaked", ApiKey.WRITE)
    apikeys.revoke(revoked)
    return {"expired": expired_token, "revoked": revoked_token,
            "unknown": "whk_live_" + "x" * 43, "not a key": "hello", "empty": ""}


@pytest.mark.parametrize("path", READS)
def test_every_route_refuses_a_missing_unknown_revoked_or_expired_key_alike(api, org, hook, path):
    path = path.format(**hook)
    answers = [api.get(path, token=token) for token in _unusable_keys(org).values()]
    answers.append(api.client.get(f"/api/v1{path}"))  # no Authorization at all
    for response in answers:
        assert response.status_code == 401
        assert messages(response) == {"": UNAUTHORIZED}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert len({r.get_data() for r in answers}) == 1  # nothing tells them apart


@pytest.mark.parametrize("method, path", WRITES)
def test_every_write_refuses_an_unusable_key(api, org, hook, method, path):
    for token in _unusable_keys(org).values():
        response = api.call(method, path.format(**hook), token=token, json={})
        assert response.status_code == 401, (method, path)


@pytest.mark.parametrize("path", READS)
def test_a_read_key_reads(api, read_key, hook, path):
    assert api.get(path.format(**hook), token=read_key).status_code == 200


@pytest.mark.parametrize("method, path", WRITES)
def test_a_read_key_changes_nothing(api, read_key, hook, method, path):
    response = api.call(method, path.format(**hook), token=read_key,
                        json=_body(path) if method != "GET" else None)
    assert response.status_code == 403
    assert "scope write" in messages(response)[""]
    db.session.expire_all()
    webhook = db.session.get(Webhook, hook["id"])
    assert (webhook.name, webhook.deleted_at, webhook.is_active) == ("Hook", None, False)


def test_read_only_message_names_the_scope(api, read_key):
    assert messages(api.post("/webhooks", token=read_key, json={})) == {"": READ_ONLY}


@pytest.mark.parametrize("method, path", [("GET", p) for p in READS[1:-1]] + WRITES[1:])
def test_another_organizations_key_finds_nothing_of_ours(api, factory, hook, method, path):
    _, token = apikeys.create(factory.org("globex"), "Theirs", ApiKey.WRITE)
    response = api.call(method, path.format(**hook), token=token, json=_body(path))
    assert response.status_code == 404
    assert messages(response) == {"": "Not found."}


def test_another_organizations_key_lists_only_its_own_webhooks(api, factory, hook):
    other = factory.org("globex")
    factory.webhook(other, name="Theirs")
    _, token = apikeys.create(other, "Theirs", ApiKey.READ)
    names = [w["name"] for w in api.get("/webhooks", token=token).get_json()["data"]]
    assert names == ["Theirs"]


def test_a_key_does_not_open_the_browser_pages(api, org, hook):
    response = api.client.get(f"/orgs/{org.slug}/webhooks/",
                              headers={"Authorization": f"Bearer {api.token}"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_using_a_key_records_when_it_was_last_used(api, org):
    key = db.session.scalar(db.select(ApiKey).filter_by(organization_id=org.id))
    assert key.last_used_at is None
    assert api.get("/webhooks").status_code == 200
    db.session.expire_all()
    assert key.last_used_at is not None and key.last_used_at > utcnow() - timedelta(minutes=1)


def test_only_a_hash_of_the_key_is_stored(write_key, org):
    key = db.session.scalar(db.select(ApiKey).filter_by(organization_id=org.id))
    assert write_key not in (key.token_hash, key.prefix) and write_key.startswith(key.prefix)
    assert len(key.token_hash) == 64


def test_revoking_takes_effect_at_once(api, org):
    assert api.get("/webhooks").status_code == 200
    apikeys.revoke(db.session.scalar(db.select(ApiKey).filter_by(organization_id=org.id)))
    assert api.get("/webhooks").status_code == 401
