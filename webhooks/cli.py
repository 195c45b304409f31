"""Commands: flask --app app orgs create | users create | users set-password | demo (and keys,
from keys.py; apikeys, from apikeys.py; purge, from retention.py; listen, from listen.py;
trigger, from first_delivery.py; status, from status.py; check, from checks.py, registered as
a plugin command so that it runs even when the app cannot be built)."""
import re
import secrets
import sys

import click
from flask import current_app

from . import first_delivery, listen, retention, sessions, status
from .extensions import db
from .apikeys import apikeys
from .keys import keys
from .models import WEBHOOKS_PERMISSION, Membership, Organization, User
from .text import control_character_in

KNOWN_PERMISSIONS = (WEBHOOKS_PERMISSION,)


def create_organization(slug, name):
    """Create and return an organization; raise click.UsageError if the slug is taken or unusable."""
    if not re.fullmatch(Organization.SLUG_PATTERN, slug):
        raise click.UsageError("The slug must be 1-64 printable ASCII characters, without / or spaces.")
    if db.session.scalar(db.select(Organization).filter_by(slug=slug)):
        raise click.UsageError(f"Organization {slug!r} already exists.")
    org = Organization(slug=slug, name=name)
    db.session.add(org)
    db.session.commit()
    return org


def create_user(email, password, org, permissions):
    """Create a user who is a member of org with the given permissions."""
    email = email.strip().lower()
    if db.session.scalar(db.select(User).filter_by(email=email)):
        raise click.UsageError(f"User {email!r} already exists.")
    user = User(email=email)
    user.set_password(password)
    db.session.add(user)
    db.session.add(Membership(user=user, organization=org, permissions=list(permissions)))
    db.session.commit()
    return user


@click.group("orgs")
def orgs():
    """Manage organizations."""


@orgs.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name.")
def orgs_create(slug, name):
    """Create an organization identified by SLUG."""
    create_organization(slug, name)
    click.echo(f"Created organization {slug}.")


@click.group("users")
def users():
    """Manage users."""


@users.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True, help="Organization slug to join.")
@click.option("--permission", "permissions", multiple=True,
              type=click.Choice(KNOWN_PERMISSIONS), help="Grant a permission (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(email, org_slug, permissions, password_stdin):
    """Create a user with EMAIL as a member of an organization."""
    org = db.session.scalar(db.select(Organization).filter_by(slug=org_slug))
    if org is None:
        raise click.UsageError(f"No organization {org_slug!r}.")
    create_user(email, _read_password(password_stdin), org, permissions)
    click.echo(f"Created user {email.lower()} in {org_slug}.")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(email, password_stdin):
    """Give the user with EMAIL a new password and end all of their sessions."""
    user = db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))
    if user is None:
        raise click.UsageError(f"No user {email!r}.")
    user.set_password(_read_password(password_stdin))
    db.session.commit()
    ended = sessions.end_all(user.id)
    click.echo(f"Changed the password of {user.email}; ended {ended} session{'s' if ended != 1 else ''}.")


def _read_password(from_stdin):
    """Read a password from standard input or a hidden prompt; refuse a short one."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.UsageError("The password must have at least 8 characters.")
    if control_character_in(password):
        raise click.UsageError("The password cannot contain control characters.")
    return password


@click.command("demo")
@click.option("--password", default=None, help="Demo password (random if not given).")
@click.option("--wait-for-receiver", "wait", type=click.FloatRange(0, 120), default=0,
              metavar="SECONDS", help="Wait this long for the local receiver to start before "
                                      "turning the demo webhook on (make run: 15).")
def demo(password, wait):
    """Create a demo organization and user, print how to sign in; in development, give it a
    webhook to the local receiver (flask --app app listen) and turn it on."""
    email = "demo@example.com"
    org = db.session.scalar(db.select(Organization).filter_by(slug="demo"))
    if org is None:
        org = create_organization("demo", "Demo Company")
    user = db.session.scalar(db.select(User).filter_by(email=email))
    password = password or secrets.token_urlsafe(9)
    if user is None:
        create_user(email, password, org, [WEBHOOKS_PERMISSION])
    else:
        user.set_password(password)
        db.session.commit()
        sessions.end_all(user.id)
    click.echo("Demo organization: demo (Demo Company)")
    click.echo(f"Sign in with: {email} / {password}")
    token = current_app.config.get("WEBHOOKS_INTERNAL_TOKEN")
    if token:
        click.echo(f"Internal token (Authorization: Bearer …): {token}")
    first_delivery.ensure_demo_webhook(org, wait)


def init_app(app):
    app.cli.add_command(orgs)
    app.cli.add_command(users)
    app.cli.add_command(demo)
    app.cli.add_command(keys)
    app.cli.add_command(apikeys)
    app.cli.add_command(retention.purge_command)
    app.cli.add_command(listen.listen_command)
    app.cli.add_command(first_delivery.trigger_command)
    app.cli.add_command(status.status_command)
