"""The event catalog: every event type by name and kind, for ingest, the form, the reference
page and `GET /internal/event-types`. The types themselves (schemas, examples) are data in
webhooks.event_types; checking data against them is webhooks.validation.
"""
from .event_types import EVENT_TYPES, KINDS, PING

BY_TYPE = {t.type: t for t in EVENT_TYPES + (PING,)}
SUBSCRIBABLE = tuple(t.type for t in EVENT_TYPES)


def sendable(event_type, webhook_active):
    """Return whether an event of this type may go to a webhook: a deactivated one gets only
    the test event (webhook.ping)."""
    return webhook_active or event_type == PING.type


def by_kind():
    """Return [(kind, [EventType, …]), …] in catalog order, for forms and the reference page."""
    return [(kind, [t for t in EVENT_TYPES if t.kind == kind]) for kind in KINDS]


def title_of(event_type):
    """Return "Job Created" for job.created; the raw type if unknown."""
    known = BY_TYPE.get(event_type)
    return known.title if known else event_type


def as_json():
    """Return the catalog as GET /internal/event-types publishes it."""
    return {
        "event_types": [
            {"type": t.type, "kind": t.kind, "label": t.label, "title": t.title,
             "description": t.description, "subscribable": t.type in SUBSCRIBABLE,
             "schema": t.schema, "example": t.example}
            for t in EVENT_TYPES + (PING,)
        ]
    }


def example_envelope(event_type, organization_id="acme"):
    """Return the envelope a receiver gets for this type's example, for the reference page."""
    return {
        "id": "evt_01KB3ZP4H6Q8V2X7N9C5D0R1TS",
        "type": event_type,
        "created_at": "2026-11-28T10:00:00.412Z",
        "occurred_at": "2026-11-28T10:00:00.000Z",
        "organization_id": organization_id,
        "data": BY_TYPE[event_type].example,
    }


# -- Fields, for the reference page -----------------------------------------------------------


def _type_label(schema):
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    labels = []
    for k in kinds:
        if k == "array" and "items" in schema:
            labels.append(f"array of {_type_label(schema['items'])}")
        elif k == "string" and schema.get("format"):
            labels.append(f"string ({schema['format']})")
        else:
            labels.append(k)
    return " or ".join(labels)


def fields(schema, prefix=""):
    """Return [(name, type, required, description)] for every field, depth first."""
    rows = []
    required = set(schema.get("required", ()))
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        description = sub.get("description", "")
        if sub.get("pattern"):
            description = f"{description} Pattern: {sub['pattern']}".strip()
        if sub.get("additionalProperties") is True:
            description += " May gain new fields: ignore the ones you do not know."
        rows.append((path, _type_label(sub), name in required, description))
        if "properties" in sub:
            rows.extend(fields(sub, path))
        elif sub.get("type") == "array" and "properties" in sub.get("items", {}):
            rows.extend(fields(sub["items"], path + "[]"))
    return rows
