"""Reading the audit trail (webhooks.audit): a webhook's Activity tab and the organization's
Activity page, with filters, pages newest first (keyset on the entry id, so a page costs the
same at any depth), a CSV export, and each entry put in words."""
import csv
import io
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from . import audit, catalog
from .extensions import db
from .models import AuditEntry, Delivery, Webhook

PER_PAGE = 50
EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class Filters:
    action: str | None = None
    webhook_id: int | None = None
    actor: str | None = None  # part of who did it: an email, a key's name
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    @classmethod
    def from_args(cls, args):
        """Read the filters from query arguments; what does not parse is ignored."""
        action = args.get("action") if args.get("action") in audit.ACTIONS else None
        webhook_id = args.get("webhook", type=int)
        actor = (args.get("actor") or "").strip()[:254] or None
        return cls(action, webhook_id if webhook_id and webhook_id > 0 else None, actor,
                   _day(args.get("from")), _day(args.get("to"), next_day=True))

    def args(self):
        """The query arguments that give these filters back (for links and the export)."""
        found = {"action": self.action, "webhook": self.webhook_id, "actor": self.actor,
                 "from": self.since.date().isoformat() if self.since else None,
                 "to": _previous_day(self.until) if self.until else None}
        return {name: value for name, value in found.items() if value}


def _day(text, next_day=False):
    """Midnight UTC of a YYYY-MM-DD date (of the day after with next_day), or None."""
    try:
        day = datetime.strptime(text or "", "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time(), tzinfo=timezone.utc) + timedelta(days=int(next_day))


def _previous_day(moment):
    return (moment - timedelta(days=1)).date().isoformat()


def _query(organization_id, filters):
    query = db.select(AuditEntry).where(AuditEntry.organization_id == organization_id)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.webhook_id:
        query = query.where(AuditEntry.webhook_id == filters.webhook_id)
    if filters.actor:
        escaped = filters.actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(AuditEntry.actor_label.ilike(f"%{escaped}%", escape="\\"))
    if filters.since:
        query = query.where(AuditEntry.created_at >= filters.since)
    if filters.until:
        query = query.where(AuditEntry.created_at < filters.until)
    return query


@dataclass(frozen=True)
class Page:
    entries: list
    older: int | None  # the id to pass as ?before= for the next (older) page


def page(organization_id, filters, before=None, limit=PER_PAGE):
    """Return a Page of the organization's entries matching filters, newest first, older than
    the entry id before."""
    query = _query(organization_id, filters)
    if before:
        query = query.where(AuditEntry.id < before)
    entries = db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)).all()
    more = len(entries) > limit
    entries = entries[:limit]
    shown = _shown(entries)
    return Page([shown[entry.id] for entry in entries], entries[-1].id if more else None)


def of_webhook(webhook, limit=PER_PAGE):
    """The webhook's latest entries, newest first, put in words."""
    return page(webhook.organization_id, Filters(webhook_id=webhook.id), limit=limit)


# --- In words ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    entry: AuditEntry
    title: str
    lines: list
    outcome: str | None = None  # of the test event or resend the entry sent
    tone: str | None = None  # ok | bad | None
    webhook_exists: bool = False
    delivery_kept: bool = False  # its delivery is still in Log History (not purged)

    @property
    def actor_kind(self):
        return {AuditEntry.USER: "person", AuditEntry.API_KEY: "API key",
                AuditEntry.SYSTEM: "automatic", AuditEntry.COMMAND_LINE: "command line"}.get(
            self.entry.actor_type, self.entry.actor_type)


def _shown(entries):
    """{entry id: Shown} for entries, with the outcome of the deliveries they sent."""
    delivery_ids = {entry.delivery_id for entry in entries if entry.delivery_id}
    deliveries = {d.id: d for d in db.session.scalars(
        db.select(Delivery).where(Delivery.id.in_(delivery_ids)))} if delivery_ids else {}
    webhook_ids = {entry.webhook_id for entry in entries if entry.webhook_id}
    live = set(db.session.scalars(db.select(Webhook.id).where(
        Webhook.id.in_(webhook_ids), Webhook.deleted_at.is_(None)))) if webhook_ids else set()
    shown = {}
    for entry in entries:
        outcome, tone = _outcome(deliveries.get(entry.delivery_id), entry)
        if entry.action == "webhook.disabled":
            tone = "bad"
        shown[entry.id] = Shown(entry, audit.ACTIONS.get(entry.action, entry.action),
                                describe(entry), outcome, tone, entry.webhook_id in live,
                                entry.delivery_id in deliveries)
    return shown


def _outcome(delivery, entry):
    """(words, tone) of what the entry's delivery came to, or (None, None)."""
    if entry.delivery_id is None:
        return None, None
    if delivery is None:
        return "its delivery is no longer kept (retention)", None
    if delivery.state == Delivery.SUCCEEDED:
        return f"succeeded ({delivery.last_status_code})", "ok"
    if delivery.state == Delivery.FAILED:
        answer = delivery.last_status_code or (delivery.last_error or "no response").rstrip(".")
        return f"failed ({answer})", "bad"
    if delivery.state == Delivery.CANCELLED:
        return "cancelled", None
    if delivery.manual_requested_at is not None or delivery.last_attempt_at is None:
        return "waiting to be sent", None
    return "retrying", None


SETTING_LABELS = {"name": "Name", "url": "URL", "auth_type": "Authentication",
                  "basic_username": "Username", "event_types": "Events",
                  "headers": "Custom headers"}
AUTH_LABELS = {"none": "No Auth", "basic": "Basic Auth"}


def _value(name, value):
    if value in (None, "", []):
        return "(none)"
    if name == "auth_type":
        return AUTH_LABELS.get(value, value)
    if isinstance(value, list):
        return ", ".join(value)
    return f"“{value}”" if name in ("name", "basic_username") else str(value)


def _change_line(change):
    field, old, new = change["field"], change.get("old"), change.get("new")
    if field == "basic_password":
        return "Password changed (not recorded)"
    if field == "header_values":
        return f"Custom header values changed (not recorded): {', '.join(new)}"
    if field == "event_types":
        added = [t for t in new if t not in old]
        removed = [t for t in old if t not in new]
        parts = ([f"added {', '.join(added)}"] if added else []) + \
                ([f"removed {', '.join(removed)}"] if removed else [])
        return f"Events: {'; '.join(parts)}"
    return f"{SETTING_LABELS.get(field, field)}: {_value(field, old)} → {_value(field, new)}"


def _window_line(details):
    kind = catalog.BY_TYPE.get(details.get("event_type") or "")
    of_type = f" of type {kind.type}" if kind else ""
    start, end = details.get("from"), details.get("to")
    span = f" created between {_iso_text(start)} and {_iso_text(end)}" if start and end else ""
    return f"{details.get('deliveries', 0):,} deliveries{of_type}{span}"


def _iso_text(text):
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return str(text)


def _key_line(details):
    expires = details.get("expires_at")
    until = f", expires {_iso_text(expires)}" if expires else ""
    return (f"“{details.get('name')}” ({details.get('prefix')}…), scope "
            f"{details.get('scope')}{until}")


def describe(entry):
    """The entry's details as short lines of text (never a secret: none was recorded)."""
    details, action = entry.details or {}, entry.action
    if action == "webhook.created":
        lines = [f"URL: {details.get('url')}", f"Events: {_value('event_types', details.get('event_types'))}",
                 f"Authentication: {_value('auth_type', details.get('auth_type'))}"]
        if details.get("headers"):
            lines.append(f"Custom headers: {', '.join(details['headers'])}")
        return lines
    if action == "webhook.updated":
        return [_change_line(change) for change in details.get("changes", [])]
    if action == "webhook.disabled":
        return [details.get("reason", "")]
    if action == "secret.rotated":
        hours = details.get("grace_period_hours", 0)
        return [f"The previous secret signs beside the new one for {hours} hours" if hours
                else "The previous secret stopped signing at once"]
    if action == "delivery.resent":
        return [f"Event {details.get('event_id')} ({details.get('event_type')})"]
    if action == "test_event.sent" and details.get("event_type"):
        return [f"Example of {details['event_type']}"]
    if action in ("recovery.resend_started", "recovery.replay_started"):
        return [_window_line(details)]
    if action.startswith("api_key."):
        return [_key_line(details)]
    return []


# --- CSV export -------------------------------------------------------------------------------

CSV_COLUMNS = ("id", "time_utc", "action", "description", "actor_type", "actor", "address",
               "webhook_id", "webhook_name", "delivery_id", "details")


def csv_lines(organization_id, filters):
    """Yield the CSV export of the entries matching filters, newest first, line by line (read
    a chunk at a time, so any number of entries streams in bounded memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values):
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    before = None
    while True:
        chunk = page(organization_id, filters, before, limit=EXPORT_CHUNK)
        for shown in chunk.entries:
            entry = shown.entry
            yield line([entry.id, entry.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), entry.action,
                        shown.title, entry.actor_type, _cell(entry.actor_label),
                        entry.address or "", entry.webhook_id or "",
                        _cell(entry.webhook_name or ""), entry.delivery_id or "",
                        _cell("; ".join(shown.lines))])
        if chunk.older is None:
            return
        before = chunk.older


def _cell(text):
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
