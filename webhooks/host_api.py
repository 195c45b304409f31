"""The host application's calls about people: sign-in links, organizations, members, sessions.

Same bearer token, body rules and error shape as ingest (see internal_api.py).
"""
from functools import partial

from flask import Blueprint, url_for
from jsonschema import Draft202012Validator

from . import handoff, provisioning, validation
from .extensions import db
from .internal_api import json_errors, parse_object, problem, token_problem
from .models import Organization

bp = Blueprint("host_api", __name__, url_prefix="/internal")
json_errors(bp)

ORGANIZATION_SCHEMA = {
    "$schema": validation.DRAFT, "type": "object",
    "properties": {"name": handoff.REQUEST_SCHEMA["properties"]["organization"]["properties"]["name"]},
    "required": ["name"], "additionalProperties": False,
}
MEMBER_SCHEMA = {
    "$schema": validation.DRAFT, "type": "object",
    "properties": {
        "email": handoff.REQUEST_SCHEMA["properties"]["user"]["properties"]["email"],
        "name": handoff.REQUEST_SCHEMA["properties"]["user"]["properties"]["name"],
        "permissions": handoff.REQUEST_SCHEMA["properties"]["permissions"],
    },
    "required": ["email", "permissions"], "additionalProperties": False,
}
_ORGANIZATION = partial(validation.errors_of, Draft202012Validator(
    ORGANIZATION_SCHEMA, format_checker=validation.FORMAT_CHECKER))
_MEMBER = partial(validation.errors_of, Draft202012Validator(
    MEMBER_SCHEMA, format_checker=validation.FORMAT_CHECKER))


def _valid_body(problems_of, fields):
    """Return (document, None), or (None, the error answer): 401, 400 or 422 with every problem
    problems_of(document) lists."""
    refused = token_problem()
    if refused:
        return None, refused
    document, error = parse_object(fields)
    if error:
        return None, problem(400, error)
    errors = problems_of(document)
    if errors:
        return None, ({"errors": errors}, 422)
    return document, None


def _organization(slug):
    """Return (the organization, None) for an authorized call, or (None, the error answer)."""
    refused = token_problem()
    if refused:
        return None, refused
    org = db.session.scalar(db.select(Organization).filter_by(slug=slug))
    return org, (None if org else problem(404, f"No organization {slug!r}."))


@bp.post("/sessions")
def create_sign_in_link():
    """Answer 201 with a single-use sign-in URL, valid for 60 seconds, for one of the host's users."""
    document, refused = _valid_body(handoff.problems, "organization, user and permissions")
    if refused:
        return refused
    token, expires_at = handoff.create(document)
    return {"url": url_for("auth.follow_sign_in_link", token=token, _external=True),
            "expires_at": expires_at.isoformat().replace("+00:00", "Z")}, 201


@bp.put("/organizations/<slug:slug>")
def put_organization(slug):
    """Create or rename an organization."""
    document, refused = _valid_body(_ORGANIZATION, "name")
    if refused:
        return refused
    org = provisioning.organization(slug, document["name"])
    db.session.commit()
    return {"id": org.slug, "name": org.name}, 200


@bp.put("/organizations/<slug:slug>/members/<host_user:host_user_id>")
def put_member(slug, host_user_id):
    """Create or update a person and their permissions in an existing organization."""
    document, refused = _valid_body(_MEMBER, "email and permissions")
    if refused:
        return refused
    org, missing = _organization(slug)
    if missing:
        return missing
    try:
        user = provisioning.person(host_user_id, document["email"], document.get("name"))
    except provisioning.Conflict as conflict:
        db.session.rollback()
        return problem(409, str(conflict), "email")
    member = provisioning.membership(org, user, document["permissions"])
    db.session.commit()
    return {"organization": org.slug, "user": {"id": host_user_id, "email": user.email,
                                               "name": user.name},
            "permissions": member.permissions}, 200


@bp.delete("/organizations/<slug:slug>/members/<host_user:host_user_id>")
def delete_member(slug, host_user_id):
    """Remove a person from an organization and end their sessions there at once."""
    org, refused = _organization(slug)
    if refused:
        return refused
    removed = provisioning.remove_member(org, host_user_id)
    db.session.commit()
    return ("", 204) if removed else problem(404, f"No member {host_user_id!r} in {slug!r}.")


@bp.post("/organizations/<slug:slug>/sessions/expire")
def expire_sessions(slug):
    """End every session opened for an organization."""
    org, refused = _organization(slug)
    if refused:
        return refused
    ended = provisioning.expire_sessions(org)
    db.session.commit()
    return {"ended": ended}, 200

