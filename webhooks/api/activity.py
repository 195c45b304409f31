"""/api/v1/activity: the organization's audit trail, newest first, with the Activity page's
filters. Read-only: entries are never changed."""
from .. import activity
from . import answers, bp, cursors, operation
from .auth import current_key
from .errors import problem
from .schemas import ActivityFilter, ActivityPage, Actor, AuditEntryOut, Errors

TAGS = ["Activity"]


def _entry_out(shown):
    entry = shown.entry
    return AuditEntryOut(
        id=entry.id, action=entry.action, title=shown.title, description=shown.lines,
        actor=Actor(type=entry.actor_type, id=entry.actor_id, label=entry.actor_label,
                    address=entry.address),
        webhook_id=entry.webhook_id, webhook_name=entry.webhook_name,
        delivery_id=entry.delivery_id, details=entry.details or {}, created_at=entry.created_at)


@bp.get("/activity")
@operation(query=ActivityFilter, resp=answers(HTTP_200=ActivityPage, HTTP_400=Errors), tags=TAGS)
def list_activity(query: ActivityFilter):
    """List the organization's audit trail, newest first: every change to its webhooks and API
    keys, who made it (a person, an API key, the service), when and from where."""
    before = None
    if query.cursor is not None:
        before = cursors.decode(query.cursor)
        if before is None:
            return problem(400, "is not a cursor this API gave out.", path="cursor")
    filters = activity.Filters(query.action, query.webhook_id, query.actor, query.since,
                               query.until)
    found = activity.page(current_key().organization_id, filters, before, query.limit)
    return ActivityPage(data=[_entry_out(shown) for shown in found.entries],
                        next_cursor=cursors.encode(found.older) if found.older else None)
