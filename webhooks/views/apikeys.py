"""The organization's API keys, a section of the Webhooks tab: list, create (shown once), revoke."""
from datetime import timedelta

from flask import (Blueprint, abort, flash, g, make_response, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, ValidationError

from .. import apikeys
from ..access import webhooks_permission_required
from ..extensions import db
from ..forms import SelectChoice
from ..models import ApiKey, utcnow
from . import ID

bp = Blueprint("apikeys", __name__, url_prefix="/orgs/<slug:slug>/webhooks/api-keys")

# The management API's reference, served by the api blueprint.
API_DOCS_PATH = "/api/v1/docs"
NEVER = "never"
SCOPE_CHOICES = [SelectChoice(ApiKey.READ, "Read"), SelectChoice(ApiKey.WRITE, "Write")]
EXPIRY_CHOICES = [SelectChoice(str(days) if days else NEVER, label)
                  for days, label in apikeys.EXPIRY_CHOICES]
# What each state is called in the listing, and the tone of its badge.
STATES = {"active": ("Active", "ok"), "expired": ("Expired", "warn"), "revoked": ("Revoked", "")}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ApiKeyForm(FlaskForm):
    """The name, scope and expiry of a new key."""

    name = StringField("Name", filters=[_strip])
    scope = SelectField("Scope", choices=SCOPE_CHOICES, default=ApiKey.READ)
    expiry = SelectField("Expires", choices=EXPIRY_CHOICES, default=NEVER)

    def validate_name(self, field):
        # The command line refuses the same names: the rule lives in webhooks.apikeys.
        problem = apikeys.name_problem(field.data or "")
        if problem:
            raise ValidationError(problem)

    def expires_at(self, now):
        """Return when the key expires, counted from now, or None for never."""
        return None if self.expiry.data == NEVER else now + timedelta(days=int(self.expiry.data))


def state_of(key, now):
    """Return "revoked", "expired" or "active": what the key is worth at now."""
    if key.revoked_at is not None:
        return "revoked"
    return "active" if key.usable(now) else "expired"


def _get_key(org, key_id):
    """Return the organization's key, or 404 whoever owns that id."""
    key = db.session.scalar(db.select(ApiKey).filter_by(id=key_id, organization_id=org.id))
    if key is None:
        abort(404)
    return key


def _render_index(form, status=200):
    now = utcnow()
    keys = [(key, state_of(key, now)) for key in apikeys.of_organization(g.org)]
    return render_template("apikeys/index.html", org=g.org, keys=keys, form=form, states=STATES,
                           api_docs=API_DOCS_PATH), status


@bp.route("/")
@webhooks_permission_required
def index(slug):
    """List the organization's keys, newest first, and the form that creates one."""
    return _render_index(ApiKeyForm())


@bp.route("/", methods=["POST"])
@webhooks_permission_required
def create(slug):
    """Create a key and show it, this once; invalid input returns the form with its errors."""
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _render_index(form, 422)
    key, token = apikeys.create(g.org, form.name.data, form.scope.data,
                                expires_at=form.expires_at(utcnow()), created_by=current_user)
    response = make_response(render_template("apikeys/created.html", org=g.org, key=key,
                                             token=token, api_docs=API_DOCS_PATH), 201)
    # The key is in this page and nowhere else: no cache may keep a copy of it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route(f"/<{ID}:key_id>/revoke", methods=["POST"])
@webhooks_permission_required
def revoke(slug, key_id):
    """Ask for confirmation; on a confirmed POST, revoke the key at once."""
    key = _get_key(g.org, key_id)
    if request.form.get("confirmed") != "yes":
        return render_template("apikeys/revoke.html", org=g.org, key=key)
    if apikeys.revoke(key):
        flash(f"API key “{key.name}” was revoked: requests made with it are refused from now on.",
              "success")
    else:
        flash(f"API key “{key.name}” was already revoked.", "info")
    return redirect(url_for(".index", slug=slug))
