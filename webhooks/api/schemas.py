"""The management API's requests and answers as pydantic models: they validate what comes in
and goes out, and spectree turns them into the OpenAPI document (nothing is written by hand)."""
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from .. import audit, catalog, history, secret_rotation
from ..models import ApiKey, AuditEntry

OUTCOMES = Literal[tuple(history.OUTCOMES)]
MAX_LIMIT = 100


class Body(BaseModel):
    """A request body: unknown fields are refused and types are not coerced ("1" is no number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query arguments: text by nature, so numbers are read from it."""

    model_config = ConfigDict(extra="forbid")


class Error(BaseModel):
    path: str = Field(description="Where the problem is: a field such as url or headers[0].name; "
                                  "empty for the request as a whole.")
    message: str


class Errors(BaseModel):
    """Every error answer: 400, 401, 403, 404, 409, 413, 415, 422 and 429."""

    errors: list[Error]


# Webhooks

class HeaderIn(Body):
    name: str = Field(description="A header name; webhook-*, Content-Type, Host, User-Agent, "
                                  "hop-by-hop headers and (with Basic Auth) Authorization are "
                                  "reserved.")
    value: str | None = Field(None, description="Up to 1 KiB of printable ASCII. On update, "
                                                "null or empty keeps the stored value of the "
                                                "same name.")


class HeaderOut(BaseModel):
    name: str
    value: str = Field(description="Always masked: values are never shown again.")


class WebhookFields(Body):
    name: str | None = Field(None, description="Up to 100 characters.")
    url: str | None = Field(None, description="An https URL on a public address.")
    event_types: list[str] | None = Field(None, description="Event types to send (see "
                                                            "GET /event-types), at least one.")
    auth_type: Literal["none", "basic"] | None = None
    basic_username: str | None = Field(None, description="With auth_type basic; no colon.")
    basic_password: str | None = Field(None, description="With auth_type basic; write-only. "
                                                         "On update, omit it to keep the "
                                                         "stored one.")
    headers: list[HeaderIn] | None = Field(None, description="Up to 20 custom request headers; "
                                                             "replaces the list when given.")


class WebhookCreate(WebhookFields):
    name: str
    url: str
    event_types: list[str]


class WebhookUpdate(WebhookFields):
    """Fields left out keep their current values."""


class Health(BaseModel):
    state: Literal["healthy", "failing", "disabled"]
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failing_since: datetime | None
    disabled_reason: str | None


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    event_types: list[str]
    is_active: bool
    auth_type: Literal["none", "basic"]
    basic_username: str | None
    headers: list[HeaderOut]
    previous_secret_expires_at: datetime | None = Field(
        description="While the previous signing secret still signs (after a rotation).")
    missed_from: datetime | None = Field(description="After it was turned back on: the time it "
                                                     "was off, whose events a replay can send.")
    missed_until: datetime | None
    health: Health
    created_at: datetime
    updated_at: datetime


class WebhookPage(BaseModel):
    data: list[WebhookOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the "
                                                "end.")


class Page(Query):
    limit: int = Field(25, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=200)


class Switched(BaseModel):
    webhook: WebhookOut
    changed: bool = Field(description="False when it already was in that state.")
    test_delivery_id: int | None = Field(None, description="Turning on sends a test event: its "
                                                           "delivery.")


# Signing secrets

class Secret(BaseModel):
    secret: str = Field(description="whsec_ and base64: the Standard Webhooks signing secret.")
    previous_secret_expires_at: datetime | None


class Rotate(Body):
    grace_period_hours: int = Field(
        int(secret_rotation.DEFAULT_GRACE.total_seconds() // 3600), ge=0,
        le=int(secret_rotation.MAX_GRACE.total_seconds() // 3600),
        description="How long the previous secret keeps signing beside the new one.")


# Deliveries

class DeliveryFilter(Page):
    outcome: OUTCOMES = "all"
    type: str | None = Field(None, max_length=64, description="One event type.")


class DeliveryOut(BaseModel):
    id: int
    message_id: str = Field(description="Sent as webhook-id: the same for every attempt.")
    event_id: str
    event_type: str
    state: Literal["pending", "succeeded", "failed", "cancelled"]
    response: str = Field(description="What Log History's Response column shows.")
    last_status_code: int | None
    last_error: str | None
    attempt_count: int = Field(description="Automatic attempts made (resends not counted).")
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    resend_requested_at: datetime | None
    cancel_reason: str | None
    created_at: datetime


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    number: int
    trigger: str
    succeeded: bool
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    url: str
    request_headers: list[tuple[str, str]] | None = Field(
        description="Credentials masked; null once removed after the payload retention period "
                    "(so are the response's headers and body).")
    response_status: int | None
    response_headers: list[tuple[str, str]] | None
    response_body: str | None
    response_body_size: int | None
    response_truncated: bool
    error: str | None
    failure_category: str | None
    failure: str | None = Field(description="The failure category in words.")
    what_to_fix: str | None


class DeliveryDetail(DeliveryOut):
    payload: Any = Field(description="The event's JSON envelope, exactly as signed and sent; "
                                     "null once removed after the payload retention period.")
    payload_removed: str | None = Field(
        None, description="Why the payload is null, e.g. \"Payload removed after 30 days "
                          "(retention)\"; null while it is kept.")
    attempts: list[AttemptOut]


class TestEventRequest(Body):
    event_type: Literal[tuple(catalog.BY_TYPE)] = Field(
        catalog.PING.type, description="webhook.ping (any webhook), or an event type whose "
                                       "catalog example is sent (a webhook that is on).")


class TestEvent(BaseModel):
    delivery: DeliveryOut


# Bulk resends and replays

class ResendFailed(Body):
    from_: AwareDatetime = Field(alias="from", strict=False,
                                 description="Failed deliveries created from this time (RFC 3339).")
    to: AwareDatetime = Field(strict=False, description="… up to this time (excluded).")
    event_type: str | None = Field(None, description="Only this event type.")


class Progress(BaseModel):
    sent: int = Field(description="Attempted since it started.")
    succeeded: int
    failed: int = Field(description="Sent and failed again.")
    retrying: int = Field(description="Sent, failed, another attempt due (replays keep their "
                                      "schedule).")
    waiting: int = Field(description="Not sent yet.")
    percent: int
    done: bool


class RecoveryOut(BaseModel):
    id: int
    kind: Literal["resend", "replay"]
    window_from: datetime | None
    window_to: datetime | None
    event_type: str | None
    total: int = Field(description="Deliveries it put back on their way.")
    created_at: datetime
    cancelled_at: datetime | None
    progress: Progress


# Event types

class EventType(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    type: str
    kind: str
    label: str
    title: str
    description: str
    subscribable: bool = Field(description="False for webhook.ping, which the service sends.")
    data_schema: dict = Field(alias="schema", description="JSON Schema of the data field.")
    example: dict


class EventTypes(BaseModel):
    data: list[EventType]


SCOPES = Literal[ApiKey.SCOPES]


# The audit trail

class ActivityFilter(Page):
    action: Literal[tuple(audit.ACTIONS)] | None = Field(None, description="One kind of change.")
    webhook_id: int | None = Field(None, ge=1, le=2 ** 63 - 1, description="One webhook's entries.")
    actor: str | None = Field(None, max_length=254,
                              description="Part of who made the change: an email, a key's name.")
    since: AwareDatetime | None = Field(None, strict=False,
                                        description="Entries from this time (RFC 3339).")
    until: AwareDatetime | None = Field(None, strict=False,
                                        description="… up to this time (excluded).")

    @field_validator("since", "until", mode="before")
    @classmethod
    def _rfc3339_only(cls, value):
        """Refuse what pydantic would otherwise read as a Unix time ("0.5")."""
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("must be an RFC 3339 date-time, such as "
                                 "2026-12-01T00:00:00Z") from None
        return value


class Actor(BaseModel):
    type: Literal[AuditEntry.USER, AuditEntry.API_KEY, AuditEntry.SYSTEM,
                  AuditEntry.COMMAND_LINE]
    id: int | None = Field(description="The user's or API key's id.")
    label: str = Field(description="Who, in words: an email, an API key's name and prefix.")
    address: str | None = Field(description="The client address the change came from.")


class AuditEntryOut(BaseModel):
    id: int
    action: str = Field(description="What was done, e.g. webhook.updated.")
    title: str = Field(description="The action in words.")
    description: list[str] = Field(description="The details in words (what changed, why).")
    actor: Actor
    webhook_id: int | None
    webhook_name: str | None = Field(description="The webhook's name at the time.")
    delivery_id: int | None = Field(description="The test event or resend it sent.")
    details: dict = Field(description="The details as data: for webhook.updated, changes as "
                                      "[{field, old, new}] (never a password, header value or "
                                      "secret).")
    created_at: datetime


class ActivityPage(BaseModel):
    data: list[AuditEntryOut]
    next_cursor: str | None
