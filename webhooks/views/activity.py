"""The organization's Activity page: every change to its configuration, newest first,
filterable, paged, exportable as CSV. Entries are only ever read here."""
from flask import Blueprint, Response, g, render_template, request, stream_with_context

from .. import activity, audit
from ..access import webhooks_permission_required
from ..extensions import db
from ..models import Webhook

bp = Blueprint("activity", __name__, url_prefix="/orgs/<slug:slug>/activity")


def _webhook_choices():
    """The organization's webhooks, deleted ones included, to filter by."""
    return db.session.execute(db.select(Webhook.id, Webhook.name, Webhook.deleted_at)
                              .where(Webhook.organization_id == g.org.id)
                              .order_by(Webhook.name, Webhook.id)).all()


@bp.route("/")
@webhooks_permission_required
def index(slug):
    """Show a page of entries matching the filters, older than ?before= (an entry id)."""
    filters = activity.Filters.from_args(request.args)
    before = request.args.get("before", type=int)
    found = activity.page(g.org.id, filters, before if before and before > 0 else None)
    return render_template("activity/index.html", org=g.org, page=found, filters=filters,
                           actions=audit.ACTIONS, webhooks=_webhook_choices(),
                           paged=bool(before))


@bp.route("/export.csv")
@webhooks_permission_required
def export(slug):
    """Download every entry matching the filters as CSV (streamed)."""
    filters = activity.Filters.from_args(request.args)
    lines = stream_with_context(activity.csv_lines(g.org.id, filters))
    name = f"activity-{g.org.slug}.csv".replace('"', "")
    return Response(lines, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
