"""Log History on the webhook's detail screen: deliveries, attempts, resend, test event, secret."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .. import catalog, history, lifecycle, secret_rotation
from ..access import get_webhook, webhooks_permission_required
from ..redirects import local_path_or
from . import ID, MAX_ID, respond, wants_fragment
from .tabs import render_tab

NOT_CACHED = {"Cache-Control": "no-store"}

bp = Blueprint("log_history", __name__, url_prefix=f"/orgs/<slug:slug>/webhooks/<{ID}:webhook_id>")


def _row_or_404(webhook, delivery_id):
    row = history.get_row(webhook, delivery_id)
    if row is None:
        abort(404)
    return row


def _safe_next(default):
    """Return the form's next path if it stays on this site, else default."""
    return local_path_or(request.form.get("next"), default)


def _delivery_changed(row):
    """The htmx event that refreshes a delivery's row and open panel wherever they are shown."""
    return {"deliveryChanged": {"id": row.delivery.id}}


@bp.route("/log")
@webhooks_permission_required
def log(slug, webhook_id):
    """Show one page of Log History; the results fragment for htmx, else the whole page."""
    webhook = get_webhook(g.org, webhook_id)
    log_page = history.page_asked_for(webhook, request.args)
    if not wants_fragment():
        return render_tab(webhook, "log", log=log_page)
    return respond(render_template("log_history/_results.html", org=g.org, webhook=webhook,
                                   log=log_page))


@bp.route("/log/newer")
@webhooks_permission_required
def newer(slug, webhook_id):
    """Answer 204 while nothing newer than ?after= matches; else the refreshed first page."""
    webhook = get_webhook(g.org, webhook_id)
    log_filter = history.LogFilter.from_args(request.args)
    after = min(max(request.args.get("after", type=int, default=0), 0), MAX_ID)
    if not history.has_newer(webhook, log_filter, after):
        return "", 204
    page = history.log_page(webhook, log_filter, 1)
    return render_template("log_history/_results.html", org=g.org, webhook=webhook, log=page,
                           fresh_after=after)


@bp.route(f"/deliveries/<{ID}:delivery_id>/row")
@webhooks_permission_required
def row(slug, webhook_id, delivery_id):
    """Render one Log History row; it polls itself until its outcome is settled."""
    webhook = get_webhook(g.org, webhook_id)
    return render_template("log_history/_row.html", org=g.org, webhook=webhook,
                           row=_row_or_404(webhook, delivery_id))


@bp.route(f"/deliveries/<{ID}:delivery_id>")
@webhooks_permission_required
def delivery(slug, webhook_id, delivery_id):
    """Show a delivery's payload and attempts: a panel for htmx, else a page."""
    webhook = get_webhook(g.org, webhook_id)
    row = _row_or_404(webhook, delivery_id)
    if not wants_fragment():
        return render_tab(webhook, "log", panel_template="log_history/delivery.html", row=row)
    return respond(render_template("log_history/_details.html", org=g.org, webhook=webhook,
                                   row=row))


@bp.route(f"/deliveries/<{ID}:delivery_id>/resend", methods=["POST"])
@webhooks_permission_required
def resend(slug, webhook_id, delivery_id):
    """Ask for one immediate manual attempt of a delivery."""
    webhook = get_webhook(g.org, webhook_id)
    row = _row_or_404(webhook, delivery_id)
    back = _safe_next(url_for(".delivery", slug=slug, webhook_id=webhook_id,
                              delivery_id=delivery_id))
    refusal = lifecycle.request_resend(webhook, row.delivery)
    if refusal:
        flash(refusal, "error")
        if not wants_fragment():
            return respond(redirect(back))
        # Shown in the flash area (app.js lets this 409 swap); the row and panel re-render
        # with their Resend buttons disabled.
        return respond(render_template("_flashes.html"), 409, trigger=_delivery_changed(row),
                       headers={"HX-Retarget": "#flashes", "HX-Reswap": "innerHTML"})
    if not wants_fragment():
        flash(f"Resend of {row.event.public_id} requested.", "success")
        return respond(redirect(back))
    row = history.get_row(webhook, delivery_id)  # the queue may already have sent it
    return respond(render_template("log_history/_row.html", org=g.org, webhook=webhook, row=row),
                   trigger=_delivery_changed(row))


@bp.app_template_global()
def test_event_types():
    """The choices of "Send test event": webhook.ping, and the catalog by kind."""
    return catalog.PING, catalog.by_kind()


@bp.route("/test-event", methods=["POST"])
@webhooks_permission_required
def test_event(slug, webhook_id):
    """Send a test event (webhook.ping, or a catalog example) to this webhook; its result
    appears in Log History."""
    webhook = get_webhook(g.org, webhook_id)
    event_type = request.form.get("event_type") or catalog.PING.type
    refusal = lifecycle.test_event_refusal(webhook, event_type)
    if refusal:
        flash(refusal, "error")
    else:
        lifecycle.send_test_event(webhook, event_type)
        flash(f"Test event sent ({event_type}). Its result appears in Log History.", "success")
    if wants_fragment():
        return respond(render_template("_flashes.html"), trigger={"logChanged": {}})
    return respond(redirect(_safe_next(url_for(".log", slug=slug, webhook_id=webhook_id))))


@bp.route("/secret")
@webhooks_permission_required
def secret(slug, webhook_id):
    """Reveal the signing secret, only when asked and never cached."""
    webhook = get_webhook(g.org, webhook_id)
    secret_rotation.revealed(webhook)
    if not wants_fragment():
        return render_tab(webhook, "secret", revealed=True, headers=NOT_CACHED)
    return respond(render_template("log_history/_secret_value.html", org=g.org, webhook=webhook),
                   headers=NOT_CACHED)
