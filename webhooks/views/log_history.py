"""Log History on the webhook's detail screen: deliveries, attempts, resend, test event, secret."""
import logging

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, url_for

from .. import events, history, queue
from ..access import get_webhook, webhooks_permission_required
from ..extensions import db, htmx
from ..models import utcnow
from ..redirects import local_path_or
from . import ID, MAX_ID

logger = logging.getLogger(__name__)

bp = Blueprint("log_history", __name__, url_prefix=f"/orgs/<slug:slug>/webhooks/<{ID}:webhook_id>")


def _wants_fragment():
    """Return whether to answer with a fragment: an htmx swap, not a history restore."""
    return bool(htmx) and not htmx.history_restore_request


def _vary(response):
    """Mark a response whose body depends on HX-Request, so caches keep both forms apart."""
    response = make_response(response)
    response.vary.add("HX-Request")
    return response


def _row_or_404(webhook, delivery_id):
    row = history.get_row(webhook, delivery_id)
    if row is None:
        abort(404)
    return row


def _safe_next(default):
    """Return the form's next path if it stays on this site, else default."""
    return local_path_or(request.form.get("next"), default)


@bp.app_template_global()
def log_history_page(webhook):
    """Return the Log History page asked for by the current request's query arguments."""
    return history.log_page(webhook, history.LogFilter.from_args(request.args),
                            request.args.get("page", 1))


@bp.app_template_global()
def log_history_args(log_filter, **extra):
    """Return URL arguments for a filter plus extra ones (page, after)."""
    return {**log_filter.args(), **extra}


@bp.app_template_global()
def log_history_outcomes():
    return list(history.OUTCOME_LABELS.items())


@bp.app_template_global()
def log_history_event_types():
    return history.event_type_choices()


@bp.app_template_global()
def log_history_pretty_json(text):
    return history.pretty_json(text)


@bp.app_template_global()
def log_history_resend_refusal(webhook, delivery):
    return history.resend_refusal(webhook, delivery)


@bp.app_template_global()
def log_history_masked_headers(headers):
    return history.masked_headers(headers)


@bp.route("/log")
@webhooks_permission_required
def log(slug, webhook_id):
    """Show one page of Log History; the results fragment for htmx, else the whole page."""
    webhook = get_webhook(g.org, webhook_id)
    page = log_history_page(webhook)
    if _wants_fragment():
        return _vary(render_template("log_history/_results.html", org=g.org, webhook=webhook,
                                     log=page))
    return _vary(render_template("log_history/log.html", org=g.org, webhook=webhook, log=page))


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
    context = {"org": g.org, "webhook": webhook, "row": _row_or_404(webhook, delivery_id)}
    if _wants_fragment():
        return _vary(render_template("log_history/_details.html", **context))
    return _vary(render_template("log_history/delivery.html", **context))


@bp.route(f"/deliveries/<{ID}:delivery_id>/resend", methods=["POST"])
@webhooks_permission_required
def resend(slug, webhook_id, delivery_id):
    """Ask for one immediate manual attempt of a delivery."""
    webhook = get_webhook(g.org, webhook_id)
    row = _row_or_404(webhook, delivery_id)
    back = _safe_next(url_for(".delivery", slug=slug, webhook_id=webhook_id,
                              delivery_id=delivery_id))
    refusal = history.resend_refusal(webhook, row.delivery)
    if refusal:
        flash(refusal, "error")
        if not htmx:
            return redirect(back)
        # Shown in the flash area (app.js lets this 409 swap); the row and panel re-render
        # with their Resend buttons disabled.
        response = make_response(render_template("_flashes.html"), 409)
        response.headers.update({"HX-Retarget": "#flashes", "HX-Reswap": "innerHTML",
                                 "HX-Trigger": f"deliveryChanged{row.delivery.id}"})
        return response
    row.delivery.manual_requested_at = utcnow()
    db.session.commit()
    try:
        queue.get_queue().submit_manual(row.delivery.id)
    except Exception:  # the request is saved: the reconciler sends what manual_requested_at marks
        logger.exception("could not hand the manual resend of delivery %s to the queue; "
                      "the reconciler will", row.delivery.id)
    row = history.get_row(webhook, delivery_id)  # the queue may already have sent it
    if htmx:
        response = make_response(render_template("log_history/_row.html", org=g.org,
                                                  webhook=webhook, row=row))
        response.headers["HX-Trigger"] = f"deliveryChanged{row.delivery.id}"
        return response
    flash(f"Resend of {row.event.public_id} requested.", "success")
    return redirect(back)


@bp.route("/test-event", methods=["POST"])
@webhooks_permission_required
def test_event(slug, webhook_id):
    """Send a webhook.ping to this webhook; its result appears in Log History."""
    webhook = get_webhook(g.org, webhook_id)
    events.send_ping(webhook)
    flash("Test event sent. Its result appears in Log History.", "success")
    if htmx:
        response = make_response(render_template("_flashes.html"))
        response.headers["HX-Trigger"] = "logChanged"
        return response
    return redirect(_safe_next(url_for(".log", slug=slug, webhook_id=webhook_id)))


@bp.route("/secret")
@webhooks_permission_required
def secret(slug, webhook_id):
    """Reveal the signing secret, only when asked and never cached."""
    webhook = get_webhook(g.org, webhook_id)
    template = "log_history/_secret_value.html" if _wants_fragment() else "log_history/secret.html"
    response = _vary(render_template(template, org=g.org, webhook=webhook))
    response.headers["Cache-Control"] = "no-store"
    return response
