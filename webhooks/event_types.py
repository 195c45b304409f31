"""The predetermined payloads: each event type's kind, label, description, the JSON Schema of
its data and an example. Data, read through webhooks.catalog.

Value objects with a fixed shape say additionalProperties: false; the main resources (job,
estimate, document, image) may grow new fields, which integrators must ignore.
"""
from dataclasses import dataclass, field

DRAFT = "https://json-schema.org/draft/2020-12/schema"


# -- Building blocks ------------------------------------------------------------------------


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


# -- The event types -------------------------------------------------------------------------

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
