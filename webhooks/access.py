"""Permission checks shared by every organization-scoped view."""
from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from . import sessions
from .extensions import db
from .models import WEBHOOKS_PERMISSION, Organization, Webhook


def webhooks_permission_required(view):
    """Require login and Org.webhooks in the organization named by the URL's slug; set g.org."""

    @wraps(view)
    @login_required
    def wrapped(slug, **kwargs):
        org = db.session.scalar(db.select(Organization).filter_by(slug=slug))
        if org is None or not sessions.opens(org):  # a host session opens only its organization
            abort(404)
        if not current_user.can(WEBHOOKS_PERMISSION, org):
            abort(403)
        g.org = org
        return view(slug=slug, **kwargs)

    return wrapped


def get_webhook(org, webhook_id):
    """Return the organization's (not deleted) webhook, or 404 whoever owns that id."""
    webhook = db.session.scalar(
        db.select(Webhook).filter_by(id=webhook_id, organization_id=org.id, deleted_at=None)
    )
    if webhook is None:
        abort(404)
    return webhook
