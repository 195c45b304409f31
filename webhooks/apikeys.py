"""Organization API keys for the management API: created (shown once), checked, revoked.

A key is `whk_live_` and 43 random URL-safe characters; only its SHA-256 is stored (the key
is random enough that a slow hash would add nothing), looked up by a unique index.
"""
import hashlib
import secrets
from datetime import timedelta

import click
from flask.cli import AppGroup

from . import audit
from .extensions import db
from .models import ApiKey, Organization, utcnow
from .text import control_character_in

PREFIX = "whk_live_"
SHOWN_PREFIX_LENGTH = len(PREFIX) + 6
# last_used_at is written at most this often per key, not on every request.
TOUCH_EVERY = timedelta(minutes=1)
NAME_MAX = 100
# The expiry choices of the form, in days (None: never).
EXPIRY_CHOICES = ((None, "Never"), (30, "In 30 days"), (90, "In 90 days"), (365, "In a year"))


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create(org, name, scope, *, expires_at=None, created_by=None, created_by_label=None):
    """Create a key for org; commit; return (ApiKey, the key itself, which is never kept)."""
    if scope not in ApiKey.SCOPES:
        raise ValueError(f"scope must be one of {', '.join(ApiKey.SCOPES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(organization_id=org.id, name=name, scope=scope, prefix=token[:SHOWN_PREFIX_LENGTH],
                 token_hash=_digest(token), expires_at=expires_at,
                 created_by_id=created_by.id if created_by else None,
                 created_by_label=created_by_label or (created_by.email if created_by else "—"))
    db.session.add(key)
    db.session.flush()
    audit.record(org.id, "api_key.created", details=_described(key))
    db.session.commit()
    return key, token


def _described(key):
    return {"api_key_id": key.id, "name": key.name, "prefix": key.prefix, "scope": key.scope,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None}


def authenticate(token, now=None):
    """Return the usable ApiKey this token is, or None (unknown, revoked or expired alike)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    key = db.session.scalar(db.select(ApiKey).filter_by(token_hash=_digest(token)))
    now = now or utcnow()
    if key is None or not key.usable(now):
        return None
    if key.last_used_at is None or key.last_used_at <= now - TOUCH_EVERY:
        db.session.execute(db.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.session.commit()
        db.session.refresh(key)
    return key


def revoke(key):
    """Revoke the key at once (kept, for the listing). Commits; returns whether it was usable."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    audit.record(key.organization_id, "api_key.revoked", details=_described(key))
    db.session.commit()
    return True


def of_organization(org):
    """The organization's keys, newest first, revoked ones included."""
    return db.session.scalars(db.select(ApiKey).filter_by(organization_id=org.id)
                              .order_by(ApiKey.id.desc())).all()


def name_problem(name):
    """Return why name cannot name a key, or None."""
    if not name:
        return "Enter a name for this key, such as the integration that will use it."
    if len(name) > NAME_MAX:
        return f"Name must be at most {NAME_MAX} characters."
    if control_character_in(name):
        return "Name cannot contain control characters."
    return None


apikeys = AppGroup("apikeys", help="Create organization API keys for the management API.")


@apikeys.command("create")
@click.option("--org", "slug", required=True, help="The organization's slug.")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--scope", type=click.Choice(ApiKey.SCOPES), required=True,
              help="read: only GET; write: everything.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None,
              help="Expire the key after this many days (default: never).")
def create_command(slug, name, scope, expires_in_days):
    """Create a key and print it (and nothing else) on stdout: it is shown only this once."""
    org = db.session.scalar(db.select(Organization).filter_by(slug=slug))
    if org is None:
        raise click.UsageError(f"No organization {slug!r}.")
    name = name.strip()
    problem = name_problem(name)
    if problem:
        raise click.UsageError(problem)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    audit.act_as(audit.COMMAND_LINE)
    _, token = create(org, name, scope, expires_at=expires_at,
                      created_by_label="the command line")
    click.echo(token)
