"""Organizations, people and their permissions as the host application says they are.

Used just in time when a sign-in link is followed, and by the host's provisioning calls. The
caller commits.
"""
from .extensions import db
from .models import Membership, Organization, User, UserSession
from .sessions import end_where


class Conflict(Exception):
    """The host's data contradicts what is stored (an email taken by another person)."""


def organization(slug, name=None):
    """Return the organization with slug, created (or renamed) to name if given."""
    org = db.session.scalar(db.select(Organization).filter_by(slug=slug))
    if org is None:
        org = Organization(slug=slug, name=name or slug)
        db.session.add(org)
        db.session.flush()
    elif name and org.name != name:
        org.name = name
    return org


def person(host_user_id, email, name=None):
    """Return the user the host knows as host_user_id, created or updated to email and name.

    A user with that email and no host id (created with a password) becomes this person: the
    host vouches for the address. An email held by another host user is a Conflict.
    """
    email = email.strip().lower()
    user = db.session.scalar(db.select(User).filter_by(host_user_id=host_user_id))
    holder = db.session.scalar(db.select(User).filter_by(email=email))
    if holder is not None and holder is not user:
        if holder.host_user_id is not None or user is not None:
            raise Conflict(f"The email {email} belongs to another user.")
        user = holder
        user.host_user_id = host_user_id
    if user is None:
        user = User(host_user_id=host_user_id, email=email)
        db.session.add(user)
    user.email = email
    if name is not None:
        user.name = name
    db.session.flush()
    return user


def membership(org, user, permissions):
    """Make user a member of org holding exactly permissions."""
    member = db.session.scalar(db.select(Membership).filter_by(user_id=user.id, organization_id=org.id))
    if member is None:
        member = Membership(user_id=user.id, organization_id=org.id, permissions=[])
        db.session.add(member)
    member.permissions = sorted(set(permissions))
    db.session.flush()
    return member


def remove_member(org, host_user_id):
    """Remove the host user from org and end their sessions there; return whether they were one."""
    user = db.session.scalar(db.select(User).filter_by(host_user_id=host_user_id))
    if user is None:
        return False
    removed = db.session.execute(db.delete(Membership).filter_by(
        user_id=user.id, organization_id=org.id)).rowcount
    end_where(UserSession.organization_id == org.id, UserSession.user_id == user.id)
    return bool(removed)


def expire_sessions(org):
    """End every session opened for org; return how many were open."""
    return end_where(UserSession.organization_id == org.id)
