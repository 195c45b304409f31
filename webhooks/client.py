"""Send events to the Webhooks service, and open its tab for your users, from a host
application (needs only `requests`).

    from webhooks.client import send_event, sign_in_url
    result = send_event("https://webhooks.internal", token, "acme", "job.created",
                        {"job": {...}}, id="job-8841-created")
    result.event_id, result.deliveries
    url = sign_in_url("https://webhooks.example", token, {"id": "acme", "name": "Acme Roofing"},
                      {"id": "u-17", "email": "ann@acme.test"}, ["Org.webhooks"])
"""
from dataclasses import dataclass
from datetime import datetime

import requests

DEFAULT_TIMEOUT = (3.05, 10)  # seconds to connect, to read


@dataclass(frozen=True)
class Sent:
    """What the service answered: the event's id, its deliveries, whether it repeated an id."""

    event_id: str | None
    deliveries: int
    duplicate: bool = False


class WebhooksError(Exception):
    """The service refused or could not take the event."""

    def __init__(self, status, errors, message=None):
        self.status = status
        self.errors = errors  # [{"path": "data.job.id", "message": "is required."}, ...]
        listed = "; ".join(f"{e.get('path') or '(body)'}: {e.get('message')}" for e in errors)
        super().__init__(message or f"Webhooks answered {status}: {listed}")


class EventRejected(WebhooksError):
    """A 4xx: the request is wrong (token, body, type or data) and will not succeed as is."""


class ServiceUnavailable(WebhooksError):
    """A 5xx, a timeout or no connection: try again later with the same id."""


def _errors_of(response):
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    if isinstance(errors, list) and errors:
        return errors
    return [{"path": "", "message": response.text[:500] or response.reason or "no details"}]


def _post(base_url, token, path, body, session, timeout):
    """POST body as JSON; return the response of a 2xx, raise like send_event otherwise."""
    http = session or requests
    try:
        response = http.post(base_url.rstrip("/") + path, json=body, timeout=timeout,
                             headers={"Authorization": f"Bearer {token}"})
    except requests.RequestException as error:
        raise ServiceUnavailable(None, [{"path": "", "message": str(error)}],
                                 f"Webhooks could not be reached: {error}") from error
    if 400 <= response.status_code < 500:
        raise EventRejected(response.status_code, _errors_of(response))
    if not 200 <= response.status_code < 300:
        raise ServiceUnavailable(response.status_code, _errors_of(response))
    try:
        response.json()
    except ValueError:  # not the service answering (a proxy's page, say)
        raise ServiceUnavailable(response.status_code, _errors_of(response)) from None
    return response


def sign_in_url(base_url, token, organization, user, permissions, read_only=False, return_to=None,
                expires_in=None, embedded=False, session=None, timeout=DEFAULT_TIMEOUT):
    """Return a single-use URL (valid 60 s) that signs user in to organization's Webhooks tab.

    organization is {"id": slug, "name": …}; user is {"id": your id, "email": …, "name": …};
    permissions e.g. ["Org.webhooks"]. Redirect the browser to it, or make it an iframe's src.
    Raise EventRejected on 4xx (the request is wrong), ServiceUnavailable otherwise.
    """
    body = {"organization": organization, "user": user, "permissions": list(permissions),
            "read_only": read_only, "embedded": embedded}
    if return_to is not None:
        body["return_to"] = return_to
    if expires_in is not None:
        body["expires_in"] = int(expires_in)
    return _post(base_url, token, "/internal/sessions", body, session, timeout).json()["url"]


def send_event(base_url, token, organization_id, type, data, id=None, occurred_at=None,
               session=None, timeout=DEFAULT_TIMEOUT):
    """Post one event and return Sent; raise EventRejected on 4xx, ServiceUnavailable otherwise.

    Pass a stable id (e.g. "job-8841-status-3") so that a retry after a timeout is
    recorded once. occurred_at may be an aware datetime or an RFC 3339 string.
    """
    body = {"organization_id": organization_id, "type": type, "data": data}
    if id is not None:
        body["id"] = id
    if occurred_at is not None:
        body["occurred_at"] = occurred_at.isoformat() if isinstance(occurred_at, datetime) else occurred_at
    answer = _post(base_url, token, "/internal/events", body, session, timeout).json()
    return Sent(answer.get("event_id"), answer.get("deliveries", 0), bool(answer.get("duplicate")))
