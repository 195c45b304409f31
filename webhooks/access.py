"""Permission checks shared by every organization-scoped view."""
from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from . import sessions
from .extensions import db
from .models import WEBHOOKS_PERMISSION, Organization, Webhook


def webhooks_permission_required(view):
    """Require login and Org.webhooks in the organization named by the URL's slug; set g.org.

    An organization the user does not belong to answers 404 like one that does not exist, so
    nobody learns which slugs are taken; a member without the permission gets 403.
    """

    @wraps(view)
    @login_required
    def wrapped(slug, **kwargs):
        org = db.session.scalar(db.select(Organization).filter_by(slug=slug))
        # A host session opens only its own organization.
        opened = org is not None and sessions.opens(org)
        membership = current_user.membership_in(org) if opened else None
        if membership is None:
            abort(404)
        if not membership.grants(WEBHOOKS_PERMISSION):
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
