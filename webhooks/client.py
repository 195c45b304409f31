"""Send events to the Webhooks service from a host application (needs only `requests`).

    from webhooks.client import send_event
    result = send_event("https://webhooks.internal", token, "acme", "job.created",
                        {"job": {...}}, id="job-8841-created")
    result.event_id, result.deliveries
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
    http = session or requests
    try:
        response = http.post(base_url.rstrip("/") + "/internal/events", json=body, timeout=timeout,
                             headers={"Authorization": f"Bearer {token}"})
    except requests.RequestException as error:
        raise ServiceUnavailable(None, [{"path": "", "message": str(error)}],
                                 f"Webhooks could not be reached: {error}") from error
    if 400 <= response.status_code < 500:
        raise EventRejected(response.status_code, _errors_of(response))
    if response.status_code not in (200, 202):
        raise ServiceUnavailable(response.status_code, _errors_of(response))
    try:
        answer = response.json()
    except ValueError:  # not the service answering (a proxy's page, say)
        raise ServiceUnavailable(response.status_code, _errors_of(response)) from None
    return Sent(answer.get("event_id"), answer.get("deliveries", 0), bool(answer.get("duplicate")))
