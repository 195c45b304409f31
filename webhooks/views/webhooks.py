"""The Webhooks tab: list, add, edit, toggle and delete an organization's webhooks."""
from flask import Blueprint, g, render_template

from ..access import webhooks_permission_required
from ..extensions import db
from ..models import Webhook

bp = Blueprint("webhooks", __name__, url_prefix="/orgs/<slug>/webhooks")


@bp.route("/")
@webhooks_permission_required
def index(slug):
    """List the organization's webhooks."""
    webhooks = db.session.scalars(
        db.select(Webhook).filter_by(organization_id=g.org.id, deleted_at=None).order_by(Webhook.id)
    ).all()
    return render_template("webhooks/index.html", org=g.org, webhooks=webhooks)
