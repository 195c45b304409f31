"""The event catalog: kinds, types, labels, the JSON Schema of each type's data, and examples.

This module is the single source of truth for the predetermined payloads: ingest validates
against it, the form renders its checkboxes from it, the reference page documents it and
`GET /internal/event-types` publishes it.
"""
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# RFC 3339 date-time with a mandatory zone ("Z" or ±hh:mm), as JSON Schema's "date-time" means.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)

# jsonschema only checks "date-time" and "uri" when optional packages are installed; these
# small checkers make the formats binding without a new dependency.
FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time", raises=(ValueError, OverflowError))
def is_datetime(value):
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    # ValueError on 2026-02-30 or 25:00; OverflowError when UTC falls outside years 1-9999
    # (0001-01-01T00:00:00+14:00): receivers convert to UTC, and so does the envelope.
    parse_datetime(value).astimezone(timezone.utc)
    return True


@FORMAT_CHECKER.checks("uri", raises=ValueError)
def is_web_url(value):
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("https", "http") and bool(parts.hostname) and " " not in value


@FORMAT_CHECKER.checks("email")
def is_email(value):
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in value)


def parse_datetime(value):
    """Return the aware datetime of an RFC 3339 string already accepted by the schema."""
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


# -- Building blocks ------------------------------------------------------------------------
# Value objects with a fixed shape say additionalProperties: false; the main resources (job,
# estimate, document, image) may grow new fields, which integrators must ignore.


def _string(description, **extra):
    return {"type": "string", "description": description, **extra}


def _nullable(schema):
    kind = schema["type"]
    return {**schema, "type": [kind, "null"] if isinstance(kind, str) else [*kind, "null"]}


def _object(description, properties, required=None, *, extensible=False):
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": extensible,
    }


def _id(description):
    return _string(description + " Stable; a string even when it looks numeric.",
                   minLength=1, maxLength=255)


def _timestamp(description):
    return _string(description + " RFC 3339 in UTC, e.g. 2026-11-28T10:00:00Z.", format="date-time")


def _money(description):
    return _string(
        description + " A decimal string with the currency's minor-unit digits "
        "(\"1250.00\" in USD), never a float.",
        pattern=r"^-?(0|[1-9][0-9]*)(\.[0-9]{1,4})?$",
    )


USER = _object("A user of the host application.", {
    "id": _id("The user's id."),
    "name": _string("Full name.", minLength=1),
    "email": _nullable(_string("Email address, or null.", format="email")),
})

CUSTOMER = _object("The customer the job is for.", {
    "name": _string("Customer or company name.", minLength=1),
    "email": _nullable(_string("Email address, or null.", format="email")),
    "phone": _nullable(_string("Phone number as entered, ideally E.164 (+15551234567), or null.")),
})

ADDRESS = _object("The job site's postal address.", {
    "line1": _string("Street address."),
    "line2": _nullable(_string("Apartment, suite, unit, or null.")),
    "city": _string("City or locality."),
    "region": _nullable(_string("State, province or region, or null.")),
    "postal_code": _nullable(_string("Postal or ZIP code, or null.")),
    "country": _string("ISO 3166-1 alpha-2 country code, e.g. US.", pattern="^[A-Z]{2}$"),
})

JOB = _object("The job as it is after the event.", {
    "id": _id("The job's id."),
    "number": _string("The job number people see, e.g. J-1042.", minLength=1),
    "name": _string("The job's name."),
    "status": _string("The job's current status, e.g. scheduled (organizations may add their own).",
                      minLength=1),
    "customer": CUSTOMER,
    "address": _nullable(ADDRESS),
    "assigned_user": _nullable(USER),
    "created_at": _timestamp("When the job was created."),
    "updated_at": _timestamp("When the job was last changed; use it to ignore stale events."),
}, extensible=True)

JOB_REF = _object("The job this belongs to.", {
    "id": _id("The job's id."),
    "number": _string("The job number people see.", minLength=1),
})


def _file(what):
    return _object(f"The {what}.", {
        "id": _id(f"The {what}'s id."),
        "file_name": _string("File name, e.g. roof-north.jpg.", minLength=1),
        "content_type": _string("Media type, e.g. image/jpeg.", pattern=r"^[\w.+-]+/[\w.+-]+$"),
        "size_bytes": {"type": "integer", "minimum": 0, "description": "Size in bytes."},
        "url": _string("Where to download the file (https; may be a short-lived signed link).",
                       format="uri"),
        "created_at": _timestamp(f"When the {what} was added."),
    }, extensible=True)


IMAGE = _file("image")
IMAGE["properties"]["content_type"] = _string("Media type, e.g. image/jpeg.",
                                              pattern=r"^image/[\w.+-]+$")
DOCUMENT = _file("document")

ESTIMATE = _object("The estimate as it is after the event.", {
    "id": _id("The estimate's id."),
    "job_id": _id("The id of the job it belongs to."),
    "number": _string("The estimate number people see, e.g. E-2031.", minLength=1),
    "status": _string("The estimate's status, e.g. draft, sent, approved, declined.", minLength=1),
    "currency": _string("ISO 4217 currency code, e.g. USD.", pattern="^[A-Z]{3}$"),
    "subtotal": _money("Total before tax."),
    "tax": _money("Tax amount."),
    "total": _money("Total including tax."),
    "created_at": _timestamp("When the estimate was created."),
    "updated_at": _timestamp("When the estimate was last changed."),
}, extensible=True)

SIGNER = _object("One party who signed.", {
    "name": _string("The signer's name.", minLength=1),
    "email": _nullable(_string("The signer's email, or null.", format="email")),
    "signed_at": _timestamp("When this party signed."),
})


def _signed(what):
    return _object(f"The {what}, now signed by all parties.", {
        "id": _id(f"The {what}'s id."),
        "job_id": _id("The id of the job it belongs to."),
        "name": _string("The document's title.", minLength=1),
        "signed_at": _timestamp("When the last party signed."),
        "signers": {"type": "array", "minItems": 1, "items": SIGNER,
                    "description": "Everyone who signed, in signing order."},
        "url": _string("Where to download the signed PDF (https; may be a short-lived signed link).",
                       format="uri"),
    }, extensible=True)


def _data(properties):
    """Return the schema of an event's data: a fixed set of top-level keys."""
    return {"$schema": DRAFT, **_object("The event's data.", properties)}


# -- Examples ---------------------------------------------------------------------------------

_ALEX = {"id": "usr_301", "name": "Alex Rivera", "email": "alex@example.com"}
_SAM = {"id": "usr_288", "name": "Sam Okafor", "email": "sam@example.com"}
_JOB = {
    "id": "job_8841",
    "number": "J-1042",
    "name": "Roof replacement",
    "status": "scheduled",
    "customer": {"name": "Jordan Lee", "email": "jordan.lee@example.com", "phone": "+15555550142"},
    "address": {"line1": "12 Harbor Street", "line2": None, "city": "Portland", "region": "OR",
                "postal_code": "97201", "country": "US"},
    "assigned_user": _ALEX,
    "created_at": "2026-11-27T16:20:00Z",
    "updated_at": "2026-11-28T10:00:00Z",
}
_JOB_REF = {"id": "job_8841", "number": "J-1042"}
_ESTIMATE = {
    "id": "est_5120", "job_id": "job_8841", "number": "E-2031", "status": "sent",
    "currency": "USD", "subtotal": "12400.00", "tax": "1023.00", "total": "13423.00",
    "created_at": "2026-11-28T09:12:00Z", "updated_at": "2026-11-28T10:00:00Z",
}


def _signed_example(doc_id, name):
    return {
        "id": doc_id, "job_id": "job_8841", "name": name, "signed_at": "2026-11-28T10:00:00Z",
        "signers": [
            {"name": "Jordan Lee", "email": "jordan.lee@example.com", "signed_at": "2026-11-28T09:41:00Z"},
            {"name": "Alex Rivera", "email": "alex@example.com", "signed_at": "2026-11-28T10:00:00Z"},
        ],
        "url": f"https://files.example.com/documents/{doc_id}.pdf",
    }


# -- The catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventType:
    type: str
    kind: str
    label: str
    description: str
    schema: dict = field(default_factory=dict)
    example: dict = field(default_factory=dict)

    @property
    def title(self):
        """Return the long label shown in Log History, e.g. "Job Created"."""
        return f"{self.kind} {self.label}"


KINDS = ("Job", "Estimate", "Signed Document", "Signable Document")

EVENT_TYPES = (
    EventType(
        "job.created", "Job", "Created", "The job is created.",
        _data({"job": JOB}), {"job": {**_JOB, "status": "new", "updated_at": _JOB["created_at"]}},
    ),
    EventType(
        "job.updated", "Job", "Updated", "The job is updated.",
        _data({"job": JOB}), {"job": _JOB},
    ),
    EventType(
        "job.assigned", "Job", "Assigned", "The job is re-assigned to a different user.",
        _data({"job": JOB, "previous_assigned_user": _nullable(
            {**USER, "description": "Who was assigned before, or null if nobody was."})}),
        {"job": _JOB, "previous_assigned_user": _SAM},
    ),
    EventType(
        "job.image_created", "Job", "Image Created", "An image is created on the job.",
        _data({"job": JOB_REF, "image": IMAGE}),
        {"job": _JOB_REF, "image": {
            "id": "img_7702", "file_name": "roof-north.jpg", "content_type": "image/jpeg",
            "size_bytes": 482113, "url": "https://files.example.com/images/img_7702.jpg",
            "created_at": "2026-11-28T10:00:00Z"}},
    ),
    EventType(
        "job.document_created", "Job", "Document Created", "A document is created on the job.",
        _data({"job": JOB_REF, "document": DOCUMENT}),
        {"job": _JOB_REF, "document": {
            "id": "doc_3390", "file_name": "permit.pdf", "content_type": "application/pdf",
            "size_bytes": 120544, "url": "https://files.example.com/documents/doc_3390.pdf",
            "created_at": "2026-11-28T10:00:00Z"}},
    ),
    EventType(
        "job.status_changed", "Job", "Status Changed", "The job's status changes.",
        _data({"job": JOB, "previous_status": _string("The status before the change.", minLength=1)}),
        {"job": {**_JOB, "status": "in_progress"}, "previous_status": "scheduled"},
    ),
    EventType(
        "estimate.created", "Estimate", "Created", "The estimate is created.",
        _data({"estimate": ESTIMATE}),
        {"estimate": {**_ESTIMATE, "status": "draft", "updated_at": _ESTIMATE["created_at"]}},
    ),
    EventType(
        "estimate.updated", "Estimate", "Updated", "The estimate is updated.",
        _data({"estimate": ESTIMATE}), {"estimate": _ESTIMATE},
    ),
    EventType(
        "signed_document.signed", "Signed Document", "Signed",
        "The signed document is signed by all parties.",
        _data({"signed_document": _signed("signed document")}),
        {"signed_document": _signed_example("sdoc_611", "Work authorization")},
    ),
    EventType(
        "signable_document.signed", "Signable Document", "Signed",
        "The signable document is signed by all parties.",
        _data({"signable_document": _signed("signable document")}),
        {"signable_document": _signed_example("sgn_904", "Change order #2")},
    ),
)

PING = EventType(
    "webhook.ping", "Webhook", "Ping",
    "A test event sent by the service itself when a webhook is turned on or on \"Send test event\".",
    _data({
        "webhook_id": {"type": "integer", "description": "The id of the webhook being tested."},
        "message": _string("A human-readable note."),
    }),
    {"webhook_id": 42, "message": "Test event from Webhooks."},
)

BY_TYPE = {t.type: t for t in EVENT_TYPES + (PING,)}
SUBSCRIBABLE = tuple(t.type for t in EVENT_TYPES)

_VALIDATORS = {
    t.type: Draft202012Validator(t.schema, format_checker=FORMAT_CHECKER) for t in BY_TYPE.values()
}


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


# -- Validation -------------------------------------------------------------------------------


def json_path(parts, prefix=""):
    """Return data.job.signers[0].email for the parts of a path below prefix."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
               float: "number", type(None): "null"}


def _problems(error, prefix):
    """Yield (path, message) pairs for one jsonschema error, naming the offending field itself."""
    where = list(error.absolute_path)
    if error.validator == "required":
        for name in error.validator_value:
            if isinstance(error.instance, dict) and name not in error.instance:
                yield json_path([*where, name], prefix), "is required."
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        for name in error.instance:
            if name not in known:
                yield json_path([*where, name], prefix), "is not a known field."
    elif error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        got = _JSON_TYPES.get(type(error.instance), "unknown")
        yield json_path(where, prefix), f"must be of type {expected}, not {got}."
    elif error.validator == "format" and isinstance(error.cause, OverflowError):
        yield json_path(where, prefix), (f"is out of range: it must convert to a UTC time between years "
                                         f"0001 and 9999; got {_describe(error.instance)}.")
    elif error.validator == "format":
        hint = {"date-time": "an RFC 3339 date-time with a zone, e.g. 2026-11-28T10:00:00Z",
                "uri": "an http(s) URL", "email": "an email address"}.get(error.validator_value,
                                                                          error.validator_value)
        yield json_path(where, prefix), f"must be {hint}; got {_describe(error.instance)}."
    elif error.validator == "pattern":
        yield (json_path(where, prefix),
               f"{_describe(error.instance)} does not match the pattern {error.validator_value}.")
    else:
        yield json_path(where, prefix), error.message if len(error.message) <= 200 else (
            error.message[:197] + "...")


def errors_of(validator, instance, prefix=""):
    """Return every schema problem as [{"path", "message"}], sorted by path, without repeats."""
    seen = {}
    for error in validator.iter_errors(instance):
        for path, message in _problems(error, prefix):
            seen.setdefault((path, message), None)
    return [{"path": path, "message": message} for path, message in sorted(seen)]


def validate_data(event_type, data):
    """Return the problems of data for a known event type, with paths like data.job.id."""
    return errors_of(_VALIDATORS[event_type], data, prefix="data")


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
