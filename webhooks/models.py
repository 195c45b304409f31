"""The data model: organizations, users and their permissions, webhooks, events, deliveries,
attempts, the organizations' API keys, and the audit trail of configuration changes."""
import json
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from . import crypto, failures
from .columns import BigId, UTCDateTime, utcnow
from .extensions import db
from .ids import new_id
from .signing import masked

WEBHOOKS_PERMISSION = "Org.webhooks"


def _keys():
    """The credential keys stored secrets are encrypted under (see crypto.py)."""
    return crypto.credential_keys(current_app.config)


class Organization(db.Model):
    __tablename__ = "organizations"
    # 1-64 printable ASCII characters without "/": the slug appears as one segment of URLs.
    SLUG_PATTERN = r"[!-.0-~]{1,64}"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # None for people who only ever arrive from the host application.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The host application's id of this person, for those it provisions.
    host_user_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(back_populates="user")

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return self.password_hash is not None and check_password_hash(self.password_hash, password)

    def membership_in(self, organization):
        return db.session.scalar(
            db.select(Membership).filter_by(user_id=self.id, organization_id=organization.id)
        )

    def can(self, permission, organization):
        """Return whether this user holds permission in organization."""
        membership = self.membership_in(organization)
        return membership is not None and membership.grants(permission)


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship()

    def grants(self, permission):
        return permission in (self.permissions or ())


class UserSession(db.Model):
    """One sign-in: open until signed out, idle too long or past its absolute lifetime."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sessions opened from the host application's sign-in link: one organization, maybe read-only.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)


class SignInLink(db.Model):
    """A single-use sign-in link the host application asked for; what it grants is in claims."""

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    claims: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(db.Model):
    """Failed sign-ins per email address, for a short lockout after repeated failures."""

    __tablename__ = "login_throttles"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Webhook(db.Model):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_org_listing", "organization_id", "deleted_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2048))
    auth_type: Mapped[str] = mapped_column(String(16), default="none")  # none | basic
    basic_username: Mapped[str | None] = mapped_column(String(255))
    basic_password_encrypted: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # After a rotation (webhooks.secrets): the previous secret, which signs beside the new one
    # until it expires.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Custom request headers (webhooks.custom_headers): [[name, value], ...] as encrypted JSON.
    headers_encrypted: Mapped[str | None] = mapped_column(Text)
    # The latest response, kept here so the listing needs no join over deliveries.
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consecutive attempts that got no HTTP answer at all (timeout, refused, TLS, DNS); from 5
    # on, the endpoint is sent one attempt at a time until any answer comes back.
    unanswered_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Health (webhooks.health): the latest attempt's failure category, the latest success and
    # failure, and the TLS certificate's expiry seen on the latest successful attempt.
    last_category: Mapped[str | None] = mapped_column(String(16))
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    certificate_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Failing: since a delivery ended failed, until any attempt succeeds; with how many
    # deliveries ended failed meanwhile, and when the owners were warned of the turn-off.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_deliveries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disable_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When it was last turned off (by a person or automatically), and why when automatically.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # After it is turned back on: the time it was off, whose events it can be sent (a replay,
    # webhooks.recovery) until someone does so or dismisses the offer.
    missed_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    missed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Deleted webhooks are kept so pending retries can be cancelled with a reason.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()

    def __init__(self, **kwargs):
        secret = kwargs.pop("signing_secret", None) or crypto.new_signing_secret()
        password = kwargs.pop("basic_password", None)
        super().__init__(**kwargs)
        self.signing_secret = secret
        if password:
            self.basic_password = password

    # Encrypted with the current credentials key; any configured key decrypts (see crypto.py).
    @property
    def signing_secret(self):
        return crypto.decrypt(_keys(), self.secret_encrypted)

    @signing_secret.setter
    def signing_secret(self, value):
        self.secret_encrypted = crypto.encrypt(_keys(), value)

    @property
    def previous_signing_secret(self):
        """The secret before the latest rotation, expired or not (webhooks.secret_rotation)."""
        if not self.previous_secret_encrypted:
            return None
        return crypto.decrypt(_keys(), self.previous_secret_encrypted)

    @property
    def basic_password(self):
        if not self.basic_password_encrypted:
            return None
        return crypto.decrypt(_keys(), self.basic_password_encrypted)

    @basic_password.setter
    def basic_password(self, value):
        self.basic_password_encrypted = crypto.encrypt(_keys(), value) if value else None

    @property
    def custom_headers(self):
        """The custom request headers as [(name, value), ...], in the order they were given."""
        if not self.headers_encrypted:
            return []
        plain = crypto.decrypt(_keys(), self.headers_encrypted)
        return [(name, value) for name, value in json.loads(plain)]

    @custom_headers.setter
    def custom_headers(self, pairs):
        pairs = [[name, value] for name, value in pairs]
        self.headers_encrypted = crypto.encrypt(_keys(), json.dumps(pairs)) if pairs else None

    def subscribes_to(self, event_type):
        return event_type in self.event_types

    HEALTHY, FAILING, DISABLED = "healthy", "failing", "disabled"

    @property
    def health_state(self):
        """healthy, failing (a delivery ended failed and nothing succeeded since) or disabled
        (turned off automatically)."""
        if not self.is_active and self.disabled_reason:
            return self.DISABLED
        return self.FAILING if self.failing_since is not None else self.HEALTHY


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        # What a webhook missed while it was off (webhooks.recovery), by arrival time.
        Index("ix_events_org_created", "organization_id", "created_at"),
        # Idempotency: one event per (organization, host id); NULL host ids never collide.
        UniqueConstraint("organization_id", "host_event_id", name="uq_events_org_host_id"),
        # Retention (webhooks.retention): the oldest events first, and the oldest of those whose
        # payload is still kept (a partial index, so removed payloads are never walked again).
        Index("ix_events_created", "created_at"),
        Index("ix_events_payload_kept", "created_at",
              postgresql_where=text("payload IS NOT NULL"), sqlite_where=text("payload IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_id("evt"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    host_event_id: Mapped[str | None] = mapped_column(String(255))
    # The JSON envelope exactly as sent (and signed): id, type, created_at, occurred_at,
    # organization_id, data. None once removed after the retention period (webhooks.retention),
    # with its attempts' request headers and response headers and bodies.
    payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()

    @property
    def payload_removed(self):
        return self.payload is None


class Delivery(db.Model):
    """One event on its way to one webhook; the database, not the queue, holds its state."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_webhook_log", "webhook_id", "id"),
        Index("ix_deliveries_webhook_state_log", "webhook_id", "state", "id"),
        Index("ix_deliveries_webhook_type_log", "webhook_id", "event_type", "id"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        # Fair claiming: walk the webhooks with pending work, then each one's oldest due first.
        Index("ix_deliveries_pending_by_webhook", "state", "webhook_id", "next_attempt_at"),
        # Attempts in flight per webhook (held leases), for the per-endpoint cap.
        Index("ix_deliveries_webhook_lease", "webhook_id", "lease_until"),
        # Resends the reconciler finds stale (asked for, never picked up).
        Index("ix_deliveries_manual_requested", "manual_requested_at"),
        UniqueConstraint("event_id", "webhook_id", name="uq_deliveries_event_webhook"),
    )

    PENDING, SUCCEEDED, FAILED, CANCELLED = "pending", "succeeded", "failed", "cancelled"
    # Why a delivery was cancelled: kept in cancel_reason and shown in Log History.
    WEBHOOK_DEACTIVATED, WEBHOOK_DELETED = "Webhook was deactivated", "Webhook was deleted"
    WEBHOOK_DISABLED = "Webhook was turned off automatically"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Sent as webhook-id: stable across the retries of this delivery.
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_id("msg"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    # Automatic attempts made so far; manual resends do not count toward the schedule.
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # A worker owns the next attempt until this time (claimed by a conditional UPDATE).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which pump (process) holds that lease: one that holds all of a webhook's leases may
    # lease a few attempts ahead for a fast endpoint (never sending more than its cap at once).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    # A manual resend asked for and not yet sent.
    manual_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # The bulk resend or replay (webhooks.recovery) that last put this delivery back on its way.
    recovery_id: Mapped[int | None] = mapped_column(
        ForeignKey("recoveries.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    event: Mapped[Event] = relationship()
    webhook: Mapped[Webhook] = relationship()
    attempts: Mapped[list["Attempt"]] = relationship(
        back_populates="delivery", order_by="Attempt.number"
    )

    @property
    def is_final(self):
        return self.state != self.PENDING

    def is_leased(self, now):
        """Return whether a worker holds this delivery's lease (its attempt is in flight)."""
        return self.lease_until is not None and self.lease_until > now


class Attempt(db.Model):
    """One HTTP request to the endpoint and what came back, exactly as it happened."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number", name="uq_attempts_delivery_number"),)

    AUTOMATIC, MANUAL, PING = "automatic", "manual", "ping"
    # Attempts of a bulk resend and of a replay after turning a webhook back on.
    BULK_RESEND, REPLAY = "bulk_resend", "replay"
    TRIGGER_LABELS = {BULK_RESEND: "bulk resend", REPLAY: "replay"}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2048))
    # Header lists are [name, value] pairs: order and repeated names (Set-Cookie) are kept.
    # None, like the response's headers and body, once removed after the retention period.
    request_headers: Mapped[list | None] = mapped_column(JSON, default=list)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[list | None] = mapped_column(JSON)
    response_body: Mapped[str | None] = mapped_column(Text)
    response_body_size: Mapped[int | None] = mapped_column(Integer)
    response_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    # webhooks.failures: success, http_5xx, timeout, tls, ...; None on attempts recorded earlier.
    category: Mapped[str | None] = mapped_column(String(16))
    certificate_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    delivery: Mapped[Delivery] = relationship(back_populates="attempts")

    @property
    def failure(self):
        """(category label, what to fix) of a failed attempt, None of a successful one."""
        if self.succeeded:
            return None
        _, label, fix = failures.explain(
            self.category, url=self.url, status=self.response_status, error=self.error,
            timeout_seconds=current_app.config["WEBHOOKS_TIMEOUT_SECONDS"],
            certificate_expires_at=self.certificate_expires_at)
        return label, fix

    @property
    def trigger_label(self):
        return self.TRIGGER_LABELS.get(self.trigger, self.trigger)

    @property
    def request_headers_shown(self):
        """The request headers with credentials hidden, whatever form they were stored in."""
        return masked(self.request_headers or [])


class Recovery(db.Model):
    """A bulk resend of a webhook's failed deliveries, or a replay of what it missed while off.

    Its deliveries carry its id (Delivery.recovery_id); its progress is counted from them.
    """

    __tablename__ = "recoveries"

    RESEND, REPLAY = "resend", "replay"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[str] = mapped_column(String(16))
    window_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_type: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    webhook: Mapped[Webhook] = relationship()
    created_by: Mapped[User | None] = relationship()


class HourlyStats(db.Model):
    """One webhook's attempts in one hour, added up as they are recorded (webhooks.stats), so
    statistics read at most 168 rows per webhook whatever the attempts table holds."""

    __tablename__ = "webhook_hourly_stats"

    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"),
                                            primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_failed: Mapped[int] = mapped_column(Integer, default=0)
    first_attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_attempts_succeeded: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)  # deliveries that ended so
    failed: Mapped[int] = mapped_column(Integer, default=0)
    retrying: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts with a retry due
    duration_ms_total: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts per response-time bucket, then failed attempts per failure category
    # (webhooks.failures.FAILURES): plain columns, so an upsert adds them up in the database.
    # Upper bounds of the buckets, in ms; slower attempts count in ms_over.
    BUCKETS_MS = (5, 10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 15000)
    ms_5: Mapped[int] = mapped_column(Integer, default=0)
    ms_10: Mapped[int] = mapped_column(Integer, default=0)
    ms_25: Mapped[int] = mapped_column(Integer, default=0)
    ms_50: Mapped[int] = mapped_column(Integer, default=0)
    ms_100: Mapped[int] = mapped_column(Integer, default=0)
    ms_200: Mapped[int] = mapped_column(Integer, default=0)
    ms_300: Mapped[int] = mapped_column(Integer, default=0)
    ms_500: Mapped[int] = mapped_column(Integer, default=0)
    ms_750: Mapped[int] = mapped_column(Integer, default=0)
    ms_1000: Mapped[int] = mapped_column(Integer, default=0)
    ms_1500: Mapped[int] = mapped_column(Integer, default=0)
    ms_2000: Mapped[int] = mapped_column(Integer, default=0)
    ms_3000: Mapped[int] = mapped_column(Integer, default=0)
    ms_5000: Mapped[int] = mapped_column(Integer, default=0)
    ms_10000: Mapped[int] = mapped_column(Integer, default=0)
    ms_15000: Mapped[int] = mapped_column(Integer, default=0)
    ms_over: Mapped[int] = mapped_column(Integer, default=0)
    http_4xx: Mapped[int] = mapped_column(Integer, default=0)
    http_5xx: Mapped[int] = mapped_column(Integer, default=0)
    redirect: Mapped[int] = mapped_column(Integer, default=0)
    timeout: Mapped[int] = mapped_column(Integer, default=0)
    connection: Mapped[int] = mapped_column(Integer, default=0)
    tls: Mapped[int] = mapped_column(Integer, default=0)
    dns: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)


class ApiKey(db.Model):
    """An organization's key for the management API (webhooks.apikeys); only its hash is kept."""

    __tablename__ = "api_keys"

    READ, WRITE = "read", "write"
    SCOPES = (READ, WRITE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The key's first characters (whk_live_ and a few more), shown so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(8))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who created it, in words: a person's email, or "the command line".
    created_by_label: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()

    def usable(self, now):
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def allows(self, scope):
        return self.scope == self.WRITE or scope == self.READ


class IdempotentRequest(db.Model):
    """A POST made with an Idempotency-Key and the answer it got, replayed to a repeat of it."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotent_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # sha256 of the method, path and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None while the first request is still being answered.
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AuditEntry(db.Model):
    """One change to an organization's configuration (webhooks.audit): who, when, from where,
    what. Written in the transaction of the change; never changed afterwards."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_org", "organization_id", "id"),
        Index("ix_audit_entries_webhook", "webhook_id", "id"),
    )

    USER, API_KEY, SYSTEM, COMMAND_LINE = "user", "api_key", "system", "command_line"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(40))
    actor_type: Mapped[str] = mapped_column(String(16))
    # The user's or API key's id (no foreign key: the entry outlives them), and who in words.
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_label: Mapped[str] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(64))
    # What it was done to: a webhook (its name then), an API key, a delivery (no foreign keys:
    # deliveries go after the log retention period, the entry stays).
    webhook_id: Mapped[int | None] = mapped_column(BigId)
    webhook_name: Mapped[str | None] = mapped_column(String(100))
    delivery_id: Mapped[int | None] = mapped_column(BigId)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
