"""The in-app event reference: every event type, its fields and an example; verifying
signatures, and receiving code for each platform (webhooks.receiving)."""
import json

from flask import Blueprint, g, render_template

from .. import catalog, overview, receiving
from ..access import webhooks_permission_required

bp = Blueprint("reference", __name__)


@bp.route("/orgs/<slug:slug>/webhooks/events")
@webhooks_permission_required
def events(slug):
    """Show every event type grouped by kind: its fields, an example and how to verify it."""
    examples = {
        t.type: json.dumps(catalog.example_envelope(t.type, g.org.slug), indent=2, ensure_ascii=False)
        for t in catalog.BY_TYPE.values()
    }
    fields = {t.type: catalog.fields(t.schema) for t in catalog.BY_TYPE.values()}
    return render_template(
        "reference/events.html", org=g.org, groups=catalog.by_kind(), ping=catalog.PING,
        fields=fields, examples=examples, retry_schedule=overview.retry_schedule(),
        receiving=receiving.PLATFORMS, receiving_source=receiving.source,
    )
