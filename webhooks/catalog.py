"""The event catalog: kinds, types, labels and descriptions (schemas and examples to come)."""
from dataclasses import dataclass, field


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
    EventType("job.created", "Job", "Created", "The job is created."),
    EventType("job.updated", "Job", "Updated", "The job is updated."),
    EventType("job.assigned", "Job", "Assigned", "The job is re-assigned to a different user."),
    EventType("job.image_created", "Job", "Image Created", "An image is created on the job."),
    EventType("job.document_created", "Job", "Document Created", "A document is created on the job."),
    EventType("job.status_changed", "Job", "Status Changed", "The job's status changes."),
    EventType("estimate.created", "Estimate", "Created", "The estimate is created."),
    EventType("estimate.updated", "Estimate", "Updated", "The estimate is updated."),
    EventType("signed_document.signed", "Signed Document", "Signed",
              "The signed document is signed by all parties."),
    EventType("signable_document.signed", "Signable Document", "Signed",
              "The signable document is signed by all parties."),
)

PING = EventType("webhook.ping", "Webhook", "Ping", "A test event sent by the service itself.")

BY_TYPE = {t.type: t for t in EVENT_TYPES + (PING,)}
SUBSCRIBABLE = tuple(t.type for t in EVENT_TYPES)


def by_kind():
    """Return [(kind, [EventType, …]), …] in catalog order, for forms and the reference page."""
    return [(kind, [t for t in EVENT_TYPES if t.kind == kind]) for kind in KINDS]


def title_of(event_type):
    """Return "Job Created" for job.created; the raw type if unknown."""
    known = BY_TYPE.get(event_type)
    return known.title if known else event_type
