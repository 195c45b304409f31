"""The internal endpoint the host application posts events to: authenticate, validate, record."""
from flask import Blueprint, g, request

from . import catalog, events, logs, metrics, validation
from .internal_api import json_errors, parse_object, problem, token_problem

bp = Blueprint("ingest", __name__, url_prefix="/internal")
log = logs.get_logger(__name__)

# The request body the host posts. Unknown top-level fields are refused so that a typo such
# as "occured_at" is reported instead of silently dropped.
REQUEST_SCHEMA = {
    "$schema": validation.DRAFT,
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[!-~]{1,255}$",
               "description": "The host's idempotency key: 1-255 printable ASCII characters."},
        "organization_id": {"type": "string", "pattern": "^[!-~]{1,64}$",
                            "description": "The organization's slug."},
        "type": {"type": "string", "description": "An event type of the catalog."},
        "occurred_at": {"type": "string", "format": "date-time",
                        "description": "When it happened in the host application (RFC 3339)."},
        "data": {"type": "object", "description": "The payload; must match the type's schema."},
    },
    "required": ["organization_id", "type", "data"],
    "additionalProperties": False,
}
_REQUEST_CHECK = validation.SchemaCheck(REQUEST_SCHEMA)


def _problems(document):
    """Return every problem of the request: envelope fields first, then data against its type."""
    errors = _REQUEST_CHECK.errors(document)
    event_type = document.get("type")
    if isinstance(event_type, str) and event_type not in catalog.SUBSCRIBABLE:
        message = (f"{event_type[:64]!r} is sent by the service itself." if event_type in catalog.BY_TYPE
                   else f"Unknown event type {event_type[:64]!r}; see GET /internal/event-types.")
        errors.append({"path": "type", "message": message})
    elif isinstance(event_type, str) and isinstance(document.get("data"), dict):
        errors.extend(validation.validate_data(event_type, document["data"]))
    return errors


@bp.post("/events")
def receive_event():
    """Record a host event and fan it out to the organization's subscribed, active webhooks."""
    refused = token_problem()
    if refused:
        return refused
    document, error = parse_object("organization_id, type and data")
    if error:
        return problem(400, error)
    g.event_type = document.get("type")
    return record(document)


@bp.after_request
def count(response):
    """Count every answer of the events endpoint (errors too) by event type and code."""
    if request.endpoint == "ingest.receive_event":
        event_type = g.get("event_type")
        known = isinstance(event_type, str) and event_type in catalog.BY_TYPE
        metrics.event_ingested(event_type if known else "unknown", response.status_code)
    return response


def record(document):
    """Check an event document and record it; return (answer, HTTP status). The endpoint and
    `flask --app app trigger` both take this path."""
    errors = _problems(document)
    if not errors:
        try:  # lone surrogates (\ud800) parse but cannot be stored or sent as UTF-8
            events.envelope_json(document).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            errors.append({"path": "", "message": "The body holds text that is not valid Unicode "
                                                  "(an unpaired surrogate escape)."})
    if errors:
        return {"errors": errors}, 422
    occurred_at = document.get("occurred_at")
    recorded = events.accept(
        document["organization_id"], document["type"], document["data"],
        host_event_id=document.get("id"),
        occurred_at=validation.parse_datetime(occurred_at) if occurred_at else None,
    )
    answer = {"event_id": recorded.event_id, "deliveries": recorded.deliveries}
    if recorded.event_id is None:
        answer["warning"] = (f"No organization {document['organization_id']!r}: "
                             "acknowledged, nothing stored or delivered.")
        log.warning("event for unknown organization ignored",
                    organization=document["organization_id"], event_type=document["type"])
        return answer, 202
    log.info("event ingested", event_id=recorded.event_id, event_type=document["type"],
             organization=document["organization_id"], deliveries=recorded.deliveries,
             duplicate=recorded.duplicate)
    if recorded.duplicate:
        answer["duplicate"] = True
        return answer, 200
    return answer, 202


@bp.get("/event-types")
def event_types():
    """List the catalog: each type's kind, label, description, data schema and an example."""
    refused = token_problem()
    if refused:
        return refused
    return catalog.as_json()


json_errors(bp)
