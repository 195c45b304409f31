"""The Webhooks tab: list, add, edit, toggle and delete an organization's webhooks."""
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .. import activity, catalog, failures, health, history, lifecycle, overview, stats
from ..access import get_webhook, webhooks_permission_required
from ..extensions import db
from ..forms import WebhookForm, blank_header_row, url_target_problem
from ..models import Webhook, utcnow
from . import ID, respond, wants_fragment
from .tabs import render_tab

bp = Blueprint("webhooks", __name__, url_prefix="/orgs/<slug:slug>/webhooks")

PER_PAGE = 25
MAX_PAGE = 10 ** 9  # far beyond any listing, small enough that the offset fits the database


def _form_for(webhook=None):
    """Return the form, prefilled from webhook on GET; the stored password and header values
    are never included."""
    has_password = bool(webhook and webhook.basic_password_encrypted)
    stored = webhook.custom_headers if webhook else []
    if request.method == "POST" or webhook is None:
        return WebhookForm(has_stored_password=has_password, stored_headers=stored)
    data = {"name": webhook.name, "url": webhook.url, "auth_type": webhook.auth_type,
            "basic_username": webhook.basic_username, "event_types": webhook.event_types,
            "headers": [{"name": name} for name, _ in stored]}
    return WebhookForm(data=data, has_stored_password=has_password, stored_headers=stored)


def _header_button_pressed(form):
    """Apply Add header or Remove, pressed without JavaScript, to the form; return whether
    one was (the form is then shown again and nothing is saved)."""
    if request.method != "POST":
        return False
    if "add_header" in request.form:
        form.add_header_row()
        return True
    if "remove_header" in request.form:
        form.remove_header_row(request.form.get("remove_header", type=int))
        return True
    return False


def _render_form_page(template, form, status=200, **context):
    return render_template(template, org=g.org, form=form, groups=catalog.by_kind(),
                           retry_schedule=overview.retry_schedule(), **context), status


@bp.route("/")
@webhooks_permission_required
def index(slug):
    """List the organization's webhooks, oldest first, 25 to a page."""
    query = (db.select(Webhook).filter_by(organization_id=g.org.id, deleted_at=None)
             .order_by(Webhook.id))
    number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    page = db.paginate(query, page=number, per_page=PER_PAGE, max_per_page=PER_PAGE,
                       error_out=False)
    if number > page.pages > 0:  # past the end: show the last page
        page = db.paginate(query, page=page.pages, per_page=PER_PAGE, max_per_page=PER_PAGE,
                           error_out=False)
    return render_template("webhooks/index.html", org=g.org, page=page,
                           overviews=overview.of_webhooks(page.items))


@bp.route("/new", methods=["GET", "POST"])
@webhooks_permission_required
def new(slug):
    """Show the add form; save a valid webhook, deactivated, and return to the listing."""
    form = _form_for()
    if _header_button_pressed(form):
        return _render_form_page("webhooks/new.html", form)
    if form.validate_on_submit():
        webhook = Webhook(organization_id=g.org.id, is_active=False)
        form.apply_to(webhook)
        lifecycle.create(webhook)
        flash(f"Webhook “{webhook.name}” was added. It is deactivated: "
              "turn it on when your endpoint is ready.", "success")
        return redirect(url_for(".index", slug=slug))
    status = 422 if form.errors else 200
    return _render_form_page("webhooks/new.html", form, status)


@bp.route("/validate-url", methods=["POST"])
@webhooks_permission_required
def validate_url(slug):
    """Return the URL field's error area for inline validation as the user leaves the field."""
    url = (request.form.get("url") or "").strip()
    problem = url_target_problem(url) if url else None
    return render_template("webhooks/_url_error.html", error=problem)


@bp.route("/header-row")
@webhooks_permission_required
def header_row(slug):
    """Return an empty custom header row at ?index= for htmx to append (Add header), with the
    next index; nothing for a Remove button (htmx deletes its row once any answer is in)."""
    if "remove_header" in request.args:
        return respond("")
    index = max(request.args.get("index", 0, type=int), 0)
    return respond(render_template("webhooks/_header_row.html", org=g.org,
                                   fields=blank_header_row(index), index=index,
                                   number=index + 1, next_index=index + 1, autofocus=True))


@bp.route(f"/<{ID}:webhook_id>")
@webhooks_permission_required
def detail(slug, webhook_id):
    """Show a webhook's Log History: the tab people open a webhook for."""
    webhook = get_webhook(g.org, webhook_id)
    return render_tab(webhook, "log", log=history.page_asked_for(webhook, request.args))


@bp.route(f"/<{ID}:webhook_id>/health")
@webhooks_permission_required
def health_tab(slug, webhook_id):
    """Show how the webhook's endpoint has been doing lately, charted over ?period=24h or 7d."""
    webhook = get_webhook(g.org, webhook_id)
    period = request.args.get("period") if request.args.get("period") in stats.PERIODS else "24h"
    now = utcnow()
    return render_tab(webhook, "health", health=health.of_webhook(webhook, now), period=period,
                      charts=stats.hourly(webhook, now, period), stats_rate_text=stats.rate_text,
                      failure_labels=[(c, failures.LABELS[c]) for c in failures.FAILURES])


@bp.route(f"/<{ID}:webhook_id>/settings", methods=["GET", "POST"])
@webhooks_permission_required
def settings(slug, webhook_id):
    """Show the edit form and delete; save valid changes."""
    webhook = get_webhook(g.org, webhook_id)
    form = _form_for(webhook)
    if _header_button_pressed(form):
        return render_tab(webhook, "settings", form=form, groups=catalog.by_kind())
    if form.validate_on_submit():
        lifecycle.update(webhook, form.apply_to)
        flash(f"Saved changes to “{webhook.name}”.", "success")
        return redirect(url_for(".settings", slug=slug, webhook_id=webhook.id))
    return render_tab(webhook, "settings", 422 if form.errors else 200, form=form,
                      groups=catalog.by_kind())


@bp.route(f"/<{ID}:webhook_id>/signing-secret")
@webhooks_permission_required
def signing_secret(slug, webhook_id):
    """Show the signing secret, masked until revealed, and how to verify a delivery."""
    return render_tab(get_webhook(g.org, webhook_id), "secret")


@bp.route(f"/<{ID}:webhook_id>/activity")
@webhooks_permission_required
def activity_tab(slug, webhook_id):
    """Show the latest changes to the webhook and actions on it, newest first (the whole
    trail, filtered to this webhook, is on the organization's Activity page)."""
    webhook = get_webhook(g.org, webhook_id)
    return render_tab(webhook, "activity", activity=activity.of_webhook(webhook))


def _switch(webhook, active):
    """Turn the webhook on or off; flash the outcome; return the htmx events it causes."""
    if active and lifecycle.activate(webhook):
        flash(f"Webhook “{webhook.name}” turned on — a test event was sent to {webhook.url}.",
              "success")
        return {"logChanged": {}}  # the test event is a new row in Log History
    if not active and lifecycle.deactivate(webhook):
        flash(f"Webhook “{webhook.name}” turned off — it will receive no events until "
              "you turn it on again.", "info")
        return {"logChanged": {}}  # pending deliveries were cancelled
    return {}


@bp.route(f"/<{ID}:webhook_id>/toggle", methods=["POST"])
@webhooks_permission_required
def toggle(slug, webhook_id):
    """Turn a webhook on or off; htmx gets the re-rendered row (or status), others a redirect."""
    webhook = get_webhook(g.org, webhook_id)
    trigger = _switch(webhook, request.form.get("active") == "1")
    on_detail = request.form.get("from") == "detail"
    if wants_fragment():
        template = "webhooks/_status_swap.html" if on_detail else "webhooks/_row_swap.html"
        return respond(render_template(template, org=g.org,
                                       overview=overview.of_webhook(webhook)), trigger=trigger)
    if on_detail:
        return respond(redirect(url_for(".detail", slug=slug, webhook_id=webhook.id)))
    page = request.form.get("page", type=int)
    return respond(redirect(url_for(".index", slug=slug, page=page if page and page > 1 else None)))


@bp.route(f"/<{ID}:webhook_id>/delete", methods=["GET", "POST"])
@webhooks_permission_required
def delete(slug, webhook_id):
    """Ask for confirmation; on a confirmed POST, delete the webhook and cancel what is pending."""
    webhook = get_webhook(g.org, webhook_id)
    if request.method == "GET" or request.form.get("confirmed") != "yes":
        return render_template("webhooks/delete.html", org=g.org, webhook=webhook)
    lifecycle.delete(webhook)
    flash(f"Webhook “{webhook.name}” was deleted.", "success")
    return redirect(url_for(".index", slug=slug))
