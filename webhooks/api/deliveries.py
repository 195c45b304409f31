"""/api/v1/webhooks/<id>/deliveries: Log History for code, newest first with its filters, one
delivery with every attempt, and resend."""
from flask import abort

from .. import catalog, history, lifecycle
from ..extensions import db
from ..models import Delivery, Event
from ..views import MAX_ID
from . import answers, bp, cursors, operation
from .errors import problem
from .schemas import DeliveryDetail, DeliveryFilter, DeliveryOut, DeliveryPage, Errors
from .serialize import delivery_detail, delivery_out
from .webhooks import get_webhook

TAGS = ["Deliveries"]


def page_query(webhook, log_filter, before, limit):
    """Return the query of up to limit deliveries (with their events' public ids) newest
    first, below id before.

    It walks the same indexes as Log History ((webhook, id), (webhook, state, id) or (webhook,
    type, id)) from the cursor on: a page deep in a million rows costs what the first does.
    """
    conditions = log_filter.conditions(webhook)
    if before is not None:
        conditions.append(Delivery.id < before)
    return (db.select(Delivery, Event.public_id).join(Event, Event.id == Delivery.event_id)
            .where(*conditions).order_by(Delivery.id.desc()).limit(limit))


def _page(webhook, log_filter, before, limit):
    """Return (deliveries with their events' public ids, whether more follow)."""
    rows = db.session.execute(page_query(webhook, log_filter, before, limit + 1)).all()
    return rows[:limit], len(rows) > limit


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@operation(query=DeliveryFilter, resp=answers(HTTP_200=DeliveryPage, HTTP_400=Errors,
                                              HTTP_404=Errors), tags=TAGS)
def list_deliveries(webhook_id, query: DeliveryFilter):
    """List a webhook's deliveries, newest first, filtered like Log History (outcome, type)."""
    webhook = get_webhook(webhook_id)
    if query.type is not None and query.type not in catalog.BY_TYPE:
        return problem(400, f"Unknown event type {query.type!r}; see GET /api/v1/event-types.",
                       path="type")
    before = None
    if query.cursor is not None:
        before = cursors.decode(query.cursor)
        if before is None:
            return problem(400, "is not a cursor this API gave out.", path="cursor")
    rows, more = _page(webhook, history.LogFilter(query.outcome, query.type), before, query.limit)
    return DeliveryPage(data=[delivery_out(d, event_id) for d, event_id in rows],
                        next_cursor=cursors.encode(rows[-1][0].id) if more else None)


def _row(webhook, delivery_id):
    row = history.get_row(webhook, delivery_id) if delivery_id <= MAX_ID else None
    if row is None:
        abort(404)
    return row


@bp.get("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>")
@operation(resp=answers(HTTP_200=DeliveryDetail, HTTP_404=Errors), tags=TAGS)
def read_delivery(webhook_id, delivery_id):
    """Read one delivery: its event's payload and every attempt, as Log History shows them."""
    return delivery_detail(_row(get_webhook(webhook_id), delivery_id))


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/resend")
@operation(resp=answers(write=True, HTTP_202=DeliveryOut, HTTP_404=Errors), tags=TAGS)
def resend_delivery(webhook_id, delivery_id):
    """Ask for one immediate attempt of a delivery (a webhook that is off can resend pings only)."""
    webhook = get_webhook(webhook_id)
    row = _row(webhook, delivery_id)
    refusal = lifecycle.request_resend(webhook, row.delivery)
    if refusal:
        return problem(409, refusal)
    db.session.refresh(row.delivery)
    return delivery_out(row.delivery, row.event.public_id), 202

