"""Site-wide pages: the home redirect, the organization page, error pages, security headers."""
from flask import (Blueprint, abort, current_app, has_request_context, redirect, render_template,
                   request, url_for)
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from . import sessions
from .extensions import db, htmx
from .internal_api import JSON_AREAS, problem
from .models import WEBHOOKS_PERMISSION, Membership, Organization

bp = Blueprint("web", __name__)


@bp.route("/")
@login_required
def home():
    """Send the user to their first organization."""
    membership = db.session.scalar(
        db.select(Membership).filter_by(user_id=current_user.id).order_by(Membership.id)
    )
    if membership is None:
        return render_template("no_organization.html")
    return redirect(url_for("web.organization", slug=membership.organization.slug))


@bp.route("/healthz")
def healthz():
    """Answer 200 for load balancers and deploy checks, touching nothing else."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


@bp.route("/orgs/<slug:slug>")
@login_required
def organization(slug):
    """Show the organization's page with the tabs this user may open."""
    org = db.session.scalar(db.select(Organization).filter_by(slug=slug))
    if org is None or current_user.membership_in(org) is None or not sessions.opens(org):
        return render_template("errors/404.html"), 404
    if current_user.can(WEBHOOKS_PERMISSION, org):
        return redirect(url_for("webhooks.index", slug=slug))
    return render_template("organization.html", org=org)


@bp.app_context_processor
def navigation():
    """Give every template the user's organizations (which of them show the Webhooks tab), the
    session's kind (read-only, embedded in the host's page) and the host application's name."""
    host = {"host_app_name": current_app.config["WEBHOOKS_HOST_APP_NAME"],
            "host_app_url": current_app.config["WEBHOOKS_HOST_APP_URL"]}
    if not has_request_context() or not current_user.is_authenticated:  # e.g. an email
        return {"nav_orgs": [], "read_only": False, "embedded": False, **host}
    memberships = db.session.scalars(
        db.select(Membership).filter_by(user_id=current_user.id).order_by(Membership.id)
    ).all()
    return {
        "nav_orgs": [(m.organization, m.grants(WEBHOOKS_PERMISSION))
                     for m in memberships if sessions.opens(m.organization)],
        "read_only": sessions.is_read_only(),
        "embedded": sessions.is_embedded(),
        **host,
    }


@bp.app_errorhandler(CSRFError)
def csrf_failed(error):
    """Explain a stale or missing form token; htmx reloads the page to get a fresh one."""
    if htmx:
        return "", 400, {"HX-Refresh": "true"}
    return render_template("errors/400.html", reason=error.description), 400


@bp.app_errorhandler(403)
def forbidden(error):
    return render_template("errors/403.html", read_only_refusal=error.description == READ_ONLY), 403


@bp.app_errorhandler(404)
def not_found(error):
    if request.path.startswith(JSON_AREAS):
        return problem(404, "Not found.")
    return render_template("errors/404.html"), 404


@bp.after_app_request
def security_headers(response):
    if request.endpoint != "static":
        # Pages and fragments show payloads, response bodies, headers and secrets: never keep
        # them in a browser's or a proxy's cache.
        response.headers.setdefault("Cache-Control", "no-store")
    if current_app.config["WEBHOOKS_ENV"] == "production" and request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    ancestors = " ".join(current_app.config["WEBHOOKS_FRAME_ANCESTORS"]) or "'none'"
    if ancestors == "'none'":
        # X-Frame-Options cannot name origins: with allowed ancestors, the CSP alone decides.
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"frame-ancestors {ancestors}; base-uri 'self'; form-action 'self'",
    )
    return response


READ_ONLY = "This session is read-only."
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Pages that exist only to change something: refused to read-only sessions even by GET.
CHANGE_PAGES = {"webhooks.new", "webhooks.delete"}
STILL_ALLOWED = {"auth.logout", "auth.logout_everywhere"}
INTERNAL = {"ingest", "host_api"}  # the host's server calls, never a browser session


@bp.before_app_request
def refuse_changes_in_read_only_sessions():
    """A read-only session sees everything and changes nothing, whatever the request."""
    changes = request.method not in SAFE_METHODS or request.endpoint in CHANGE_PAGES
    if (changes and request.endpoint not in STILL_ALLOWED and request.blueprint not in INTERNAL
            and current_user.is_authenticated and sessions.is_read_only()):
        abort(403, READ_ONLY)
