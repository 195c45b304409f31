"""Single-use sign-in links the host application creates for its users (POST /internal/sessions).

The host's server asks for a link with the organization, the person and their permissions;
following the link within LINK_SECONDS provisions them just in time and opens a session. The
link's token is random; only its hash is stored, and one conditional UPDATE marks it used, so
it works once even if followed twice at the same moment.
"""
from datetime import timedelta

from jsonschema import Draft202012Validator

from . import provisioning, validation
from .extensions import db
from .ids import new_token, token_hash
from .models import WEBHOOKS_PERMISSION, Organization, SignInLink, utcnow
from .text import control_character_in

LINK_SECONDS = 60
MIN_SESSION, DEFAULT_SESSION, MAX_SESSION = 3600, 12 * 3600, 7 * 24 * 3600
KNOWN_PERMISSIONS = [WEBHOOKS_PERMISSION]
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"

REQUEST_SCHEMA = {
    "$schema": validation.DRAFT,
    "type": "object",
    "properties": {
        "organization": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "pattern": f"^{Organization.SLUG_PATTERN}$",
                       "description": "The organization's slug (as in events' organization_id)."},
                "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_CONTROL},
            },
            "required": ["id", "name"], "additionalProperties": False,
        },
        "user": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "pattern": "^[!-~]{1,255}$",
                       "description": "The host application's id of this person."},
                "email": {"type": "string", "format": "email", "maxLength": 254, "pattern": NO_CONTROL},
                "name": {"type": "string", "maxLength": 200, "pattern": NO_CONTROL},
            },
            "required": ["id", "email"], "additionalProperties": False,
        },
        "permissions": {"type": "array", "items": {"enum": KNOWN_PERMISSIONS}, "uniqueItems": True,
                        "description": "The person's permissions in the organization."},
        "read_only": {"type": "boolean", "default": False},
        "return_to": {"type": "string", "maxLength": 2048, "pattern": "^/orgs/",
                      "description": "A path under the organization's Webhooks tab to land on."},
        "expires_in": {"type": "integer", "minimum": MIN_SESSION, "maximum": MAX_SESSION,
                       "default": DEFAULT_SESSION, "description": "The session's length in seconds."},
        "embedded": {"type": "boolean", "default": False,
                     "description": "The link opens in the host's iframe (detected from the "
                                    "browser too)."},
    },
    "required": ["organization", "user", "permissions"],
    "additionalProperties": False,
}
_VALIDATOR = Draft202012Validator(REQUEST_SCHEMA, format_checker=validation.FORMAT_CHECKER)


def problems(document):
    """Return every problem of a sign-in link request, each with its path."""
    errors = validation.errors_of(_VALIDATOR, document)
    if errors or "return_to" not in document:
        return errors
    slug = document["organization"]["id"]
    if not _under_tab(document["return_to"], slug):
        errors.append({"path": "return_to",
                       "message": f"must be a path under /orgs/{slug}/webhooks/, the organization's tab."})
    return errors


def _under_tab(path, slug):
    tab = f"/orgs/{slug}/webhooks"
    return ((path == tab or path.startswith(tab + "/") or path.startswith(tab + "?"))
            and "//" not in path and "\\" not in path and ".." not in path
            and not control_character_in(path))


def create(document):
    """Store a link for a valid request; return (token, expires_at)."""
    (token, hashed), now = new_token(), utcnow()
    claims = {
        "organization": document["organization"],
        "user": document["user"],
        "permissions": document["permissions"],
        "read_only": document.get("read_only", False),
        "return_to": document.get("return_to"),
        "expires_in": document.get("expires_in", DEFAULT_SESSION),
        "embedded": document.get("embedded", False),
    }
    expires_at = now + timedelta(seconds=LINK_SECONDS)
    db.session.execute(db.delete(SignInLink).where(SignInLink.expires_at < now - timedelta(days=1)))
    db.session.add(SignInLink(token_hash=hashed, claims=claims, created_at=now,
                              expires_at=expires_at))
    db.session.commit()
    return token, expires_at


def redeem(token):
    """Use a link once: return its claims, or None if it is unknown, used or expired."""
    if not isinstance(token, str) or len(token) > 100:
        return None
    now, hashed = utcnow(), token_hash(token)
    used = db.session.execute(
        db.update(SignInLink)
        .where(SignInLink.token_hash == hashed, SignInLink.used_at.is_(None),
               SignInLink.expires_at > now)
        .values(used_at=now)).rowcount
    if not used:
        db.session.rollback()
        return None
    claims = db.session.scalar(db.select(SignInLink.claims).filter_by(token_hash=hashed))
    db.session.commit()
    return claims


def provision(claims):
    """Create or update the organization, the person and their membership; return (org, user).

    Raise provisioning.Conflict when the email belongs to another person.
    """
    org = provisioning.organization(claims["organization"]["id"], claims["organization"]["name"])
    person = claims["user"]
    user = provisioning.person(person["id"], person["email"], person.get("name"))
    provisioning.membership(org, user, claims["permissions"])
    db.session.commit()
    return org, user


def session_length(claims):
    return timedelta(seconds=claims["expires_in"])
