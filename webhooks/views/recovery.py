"""Recovery on the detail screen: resend the failed deliveries of a period (the count shown
before anything is sent), follow its progress, cancel it; replay what a webhook missed while
it was off."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from .. import catalog, overview, recovery
from ..access import get_webhook, webhooks_permission_required
from ..extensions import db
from ..forms import ResendWindowForm
from ..models import Recovery, utcnow
from . import ID, respond, wants_fragment
from .tabs import render_tab

bp = Blueprint("recovery", __name__, url_prefix=f"/orgs/<slug:slug>/webhooks/<{ID}:webhook_id>")


def _form(webhook):
    types = [catalog.BY_TYPE[t] for t in webhook.event_types if t in catalog.BY_TYPE]
    return ResendWindowForm(request.values, event_types=[*types, catalog.PING])


def _window(form):
    start, end = form.window(utcnow())
    return recovery.Window(start, end, form.event_type.data or None)


@bp.route("/resend-failed", methods=["GET", "POST"])
@webhooks_permission_required
def resend_failed(slug, webhook_id):
    """GET: the period form, and with ?count=1 how many failed deliveries it holds.
    POST (confirmed): resend them in the background and show the progress."""
    webhook = get_webhook(g.org, webhook_id)
    form = _form(webhook)
    asked = request.method == "POST" or "count" in request.args
    valid = asked and form.validate()
    if request.method == "POST" and valid and webhook.is_active:
        started = recovery.resend_failed(webhook, _window(form), current_user)
        flash(f"Resending {started.total:,} failed deliveries.", "success")
        return redirect(url_for(".progress_page", slug=slug, webhook_id=webhook.id,
                                recovery_id=started.id))
    count = recovery.count_failed(webhook, _window(form)) if valid else None
    status = 422 if asked and not valid else 200
    return render_tab(webhook, "log", status, panel_template="recovery/resend.html", form=form,
                      count=count, window=_window(form) if valid else None)


def _recovery_or_404(webhook, recovery_id):
    found = db.session.get(Recovery, recovery_id)
    if found is None or found.webhook_id != webhook.id:
        abort(404)
    return found


@bp.route(f"/recoveries/<{ID}:recovery_id>")
@webhooks_permission_required
def progress_page(slug, webhook_id, recovery_id):
    """The progress of a bulk resend or replay; htmx polls its progress part."""
    webhook = get_webhook(g.org, webhook_id)
    found = _recovery_or_404(webhook, recovery_id)
    progress = recovery.progress(found)
    if progress.done:
        # The webhook was read before the counting: read its health again, so a recovery that
        # finished meanwhile never shows "Finished" under a banner from before it.
        db.session.refresh(webhook)
    context = {"recovery": found, "progress": progress}
    if wants_fragment() and request.args.get("part") == "progress":
        # Once done, the banners above the header may have changed (it is healthy again).
        return respond(render_template("recovery/_progress.html", org=g.org, webhook=webhook,
                                       figures_only=True, overview=overview.of_webhook(webhook)
                                       if progress.done else None, **context))
    return render_tab(webhook, "log", panel_template="recovery/progress.html", **context)


@bp.route(f"/recoveries/<{ID}:recovery_id>/cancel", methods=["POST"])
@webhooks_permission_required
def cancel(slug, webhook_id, recovery_id):
    """Stop sending what the recovery has not sent yet."""
    webhook = get_webhook(g.org, webhook_id)
    found = _recovery_or_404(webhook, recovery_id)
    if found.cancelled_at is None:
        recovery.cancel(found)
        flash("Cancelled: the deliveries not sent yet stay as they were.", "info")
    return redirect(url_for(".progress_page", slug=slug, webhook_id=webhook.id,
                            recovery_id=found.id))


@bp.route("/replay", methods=["POST"])
@webhooks_permission_required
def replay(slug, webhook_id):
    """Send the webhook the events it missed while it was off."""
    webhook = get_webhook(g.org, webhook_id)
    started = recovery.replay_missed(webhook, current_user)
    if started is None:
        flash("There is nothing to send: the webhook is off, or its missed events were "
              "already sent or dismissed.", "info")
        return redirect(url_for("webhooks.detail", slug=slug, webhook_id=webhook.id))
    flash(f"Sending the {started.total:,} events it missed.", "success")
    return redirect(url_for(".progress_page", slug=slug, webhook_id=webhook.id,
                            recovery_id=started.id))


@bp.route("/replay/dismiss", methods=["POST"])
@webhooks_permission_required
def dismiss(slug, webhook_id):
    """Stop offering the events the webhook missed while it was off."""
    webhook = get_webhook(g.org, webhook_id)
    recovery.dismiss(webhook)
    flash("The missed events will not be sent.", "info")
    return redirect(url_for("webhooks.detail", slug=slug, webhook_id=webhook.id))
