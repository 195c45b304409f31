"""The Signing secret tab's rotation: a new secret now, the previous one signing for a while."""
from datetime import timedelta

from flask import Blueprint, flash, g, redirect, request, url_for

from .. import secret_rotation
from ..access import get_webhook, webhooks_permission_required
from . import ID, respond
from .tabs import render_tab

NOT_CACHED = {"Cache-Control": "no-store"}
GRACE_HOURS = {str(hours) for hours, _ in secret_rotation.GRACE_CHOICES}

bp = Blueprint("secret_rotation", __name__,
               url_prefix=f"/orgs/<slug:slug>/webhooks/<{ID}:webhook_id>/signing-secret")


def _grace_asked_for():
    """The grace period the form chose; the default when it chose none it offers."""
    hours = request.form.get("grace_hours", "")
    if hours not in GRACE_HOURS:
        return secret_rotation.DEFAULT_GRACE
    return timedelta(hours=int(hours))


@bp.route("/rotate", methods=["POST"])
@webhooks_permission_required
def rotate(slug, webhook_id):
    """Make a new secret and show it; the previous one keeps signing for the chosen period."""
    webhook = get_webhook(g.org, webhook_id)
    grace = _grace_asked_for()
    secret_rotation.rotate(webhook, grace)
    if grace:
        flash("New signing secret made. Both secrets sign every delivery until the previous one "
              "expires: update your receiver before then.", "success")
    else:
        flash("New signing secret made. The previous secret no longer signs deliveries.",
              "success")
    return render_tab(webhook, "secret", revealed=True, rotated=True, headers=NOT_CACHED)


@bp.route("/stop-previous", methods=["POST"])
@webhooks_permission_required
def stop_previous(slug, webhook_id):
    """End the overlap now: only the current secret signs from the next attempt on."""
    webhook = get_webhook(g.org, webhook_id)
    if secret_rotation.stop_previous(webhook):
        flash("The previous secret no longer signs deliveries.", "success")
    else:
        flash("The previous secret had already stopped signing.", "info")
    return respond(redirect(url_for("webhooks.signing_secret", slug=slug,
                                    webhook_id=webhook_id)))
