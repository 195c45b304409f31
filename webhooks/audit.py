"""The audit trail: every change to an organization's configuration, with who made it (a person,
an API key, the command line or the service itself), when and from which address.

`record` adds the entry to the session of the change, so both commit together or neither does.
Entries hold no secret: a changed password or custom header value is noted as changed, never
with its value; a revealed or rotated secret only as the fact. They are never edited; the
retention purge (webhooks.retention) removes them after WEBHOOKS_AUDIT_RETENTION_DAYS.
"""
from dataclasses import dataclass

from flask import g, has_request_context, request

from .extensions import db
from .models import AuditEntry

# Every action recorded, with how the Activity pages name it.
ACTIONS = {
    "webhook.created": "Webhook created",
    "webhook.updated": "Settings changed",
    "webhook.activated": "Turned on",
    "webhook.deactivated": "Turned off",
    "webhook.disabled": "Turned off automatically",
    "webhook.deleted": "Webhook deleted",
    "secret.revealed": "Signing secret revealed",
    "secret.rotated": "Signing secret rotated",
    "secret.previous_stopped": "Previous signing secret stopped",
    "test_event.sent": "Test event sent",
    "delivery.resent": "Delivery resent",
    "recovery.resend_started": "Bulk resend started",
    "recovery.replay_started": "Replay of missed events started",
    "recovery.cancelled": "Bulk resend or replay cancelled",
    "recovery.replay_dismissed": "Replay offer dismissed",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
}


@dataclass(frozen=True)
class Actor:
    type: str
    label: str
    id: int | None = None
    address: str | None = None


SYSTEM = Actor(AuditEntry.SYSTEM, "Webhooks (automatic)")
COMMAND_LINE = Actor(AuditEntry.COMMAND_LINE, "Command line")


def act_as(actor):
    """Make actor the author of what this app context records (the command line, say)."""
    g.audit_actor = actor


def current_actor():
    """Who is making the change: the request's API key or signed-in person; outside a request,
    whoever act_as named, else the service itself."""
    if "audit_actor" in g:
        return g.audit_actor
    if not has_request_context():
        return SYSTEM
    address = request.remote_addr
    if request.blueprint == "api":
        from .api.auth import current_key

        key = current_key()
        if key is not None:
            return Actor(AuditEntry.API_KEY, f"API key “{key.name}” ({key.prefix}…)", key.id,
                         address)
    from flask_login import current_user

    if current_user.is_authenticated:
        return Actor(AuditEntry.USER, current_user.email, current_user.id, address)
    return Actor(AuditEntry.SYSTEM, SYSTEM.label, None, address)


def record(organization_id, action, *, webhook=None, delivery_id=None, details=None, actor=None):
    """Add one entry for action to the current transaction (the caller commits it)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    actor = actor or current_actor()
    entry = AuditEntry(organization_id=organization_id, action=action, actor_type=actor.type,
                       actor_id=actor.id, actor_label=actor.label[:254], address=actor.address,
                       webhook_id=webhook.id if webhook is not None else None,
                       webhook_name=webhook.name if webhook is not None else None,
                       delivery_id=delivery_id, details=details or {})
    db.session.add(entry)
    return entry


# --- What changed in a webhook's settings ---------------------------------------------------

# Settings whose old and new values are kept (none of them secret).
PLAIN_SETTINGS = ("name", "url", "auth_type", "basic_username", "event_types")


def settings_of(webhook):
    """The webhook's settings, to compare before and after an edit. Holds the password and the
    header values in memory only: changes() reports them without their values."""
    return {"name": webhook.name, "url": webhook.url, "auth_type": webhook.auth_type,
            "basic_username": webhook.basic_username,
            "event_types": sorted(webhook.event_types or []),
            "basic_password": webhook.basic_password, "headers": webhook.custom_headers}


def created_details(webhook):
    """What a new webhook was created with (header names only, no password)."""
    settings = settings_of(webhook)
    details = {name: settings[name] for name in PLAIN_SETTINGS}
    details["headers"] = [name for name, _ in settings["headers"]]
    return details


def changes(before, after):
    """Return the changes between two settings_of() results as
    [{"field", "old", "new"}] (secret fields with None for both values)."""
    found = [{"field": name, "old": before[name], "new": after[name]}
             for name in PLAIN_SETTINGS if before[name] != after[name]]
    if before["basic_password"] != after["basic_password"]:
        found.append({"field": "basic_password", "old": None, "new": None})
    old_names = [name for name, _ in before["headers"]]
    new_names = [name for name, _ in after["headers"]]
    if old_names != new_names:
        found.append({"field": "headers", "old": old_names, "new": new_names})
    old_values = dict(before["headers"])
    changed_values = [name for name, value in after["headers"]
                      if name in old_values and old_values[name] != value]
    if changed_values:
        found.append({"field": "header_values", "old": None, "new": changed_values})
    return found
