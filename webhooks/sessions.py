"""Sign-in sessions kept on the server: the cookie only names one, so ending it is final.

Flask's own session lives entirely in the signed cookie: a copy taken before "Sign out" would
keep working. Here each sign-in writes a row; the cookie carries a random token whose hash
names the row; Flask-Login's user loader accepts the cookie only while the row is open, not
idle too long and not past its absolute lifetime.
"""
from collections import namedtuple
from datetime import timedelta

from flask import current_app, g, session
from flask_login import login_user, logout_user

from .extensions import db
from .ids import new_token, token_hash
from .models import User, UserSession, utcnow

TOKEN = "sid"  # the key of the session token in Flask's cookie
EMBEDDED = "embedded"  # set in the cookie of a session that lives in the host's iframe
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
KEEP_ENDED = timedelta(days=1)  # ended or expired rows of a user go at their next sign-in


def idle_limit():
    return timedelta(minutes=current_app.config["WEBHOOKS_SESSION_IDLE_MINUTES"])


def absolute_limit():
    return timedelta(hours=current_app.config["WEBHOOKS_SESSION_HOURS"])


def start(user, organization=None, read_only=False, lifetime=None, embedded=False):
    """Sign user in with a new server-side session (and a new cookie and CSRF token).

    A session from the host's sign-in link names its organization (it opens no other), may be
    read-only, has the lifetime the host chose and, in the host's iframe, an embeddable cookie.
    """
    now = utcnow()
    _forget_old(user.id, now)
    token, hashed = new_token()
    db.session.add(UserSession(
        token_hash=hashed, user_id=user.id, created_at=now, last_seen_at=now,
        expires_at=now + (lifetime or absolute_limit()), read_only=read_only,
        organization_id=organization.id if organization is not None else None))
    db.session.commit()
    session.clear()  # nothing from before sign-in carries over: no fixation, no old CSRF token
    session[TOKEN] = token
    if embedded:
        session[EMBEDDED] = True
    login_user(user)


# What a request needs to know of its session, read once by the user loader.
Current = namedtuple("Current", "id organization_id read_only")


def current():
    """Return this request's open session as a Current (once Flask-Login loaded the user), or None."""
    return g.get("user_session")


def is_embedded():
    """Return whether this browser session lives in the host application's iframe."""
    return bool(session.get(EMBEDDED))


def is_read_only():
    record = current()
    return record is not None and record.read_only


def opens(org):
    """Return whether this request's session may open org (a host session opens only its own)."""
    record = current()
    return record is None or record.organization_id in (None, org.id)


def user_of(user_id):
    """Return the signed-in user if this request's session is open, else None (Flask-Login)."""
    token = session.get(TOKEN)
    if not isinstance(token, str):
        return None
    found = db.session.execute(
        db.select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash(token), UserSession.user_id == user_id)
    ).first()
    if found is None:
        return None
    record, user = found
    now = utcnow()
    if record.ended_at is not None or now >= record.expires_at or now - record.last_seen_at >= idle_limit():
        return None
    g.user_session = Current(record.id, record.organization_id, record.read_only)
    if now - record.last_seen_at >= TOUCH_EVERY:
        db.session.execute(db.update(UserSession).where(UserSession.id == record.id)
                           .values(last_seen_at=now))
        db.session.commit()
    return user


def end_current():
    """Sign out: end this session on the server and empty the cookie."""
    token = session.get(TOKEN)
    if isinstance(token, str):
        end_where(UserSession.token_hash == token_hash(token))
        db.session.commit()
    forget_cookie()


def forget_cookie():
    """Sign this browser out without touching the server side (already ended)."""
    logout_user()
    session.clear()


def end_all(user_id):
    """End every open session of a user (sign out everywhere, a new password); return how many."""
    ended = end_where(UserSession.user_id == user_id)
    db.session.commit()
    return ended


def end_where(*conditions):
    """End the open sessions matching conditions; return how many. The caller commits."""
    return db.session.execute(db.update(UserSession)
                              .where(*conditions, UserSession.ended_at.is_(None))
                              .values(ended_at=utcnow())).rowcount


def _forget_old(user_id, now):
    """Delete a user's sessions that ended or expired more than KEEP_ENDED ago."""
    cutoff = now - KEEP_ENDED
    db.session.execute(db.delete(UserSession).where(
        UserSession.user_id == user_id,
        db.or_(UserSession.ended_at < cutoff, UserSession.expires_at < cutoff,
               UserSession.last_seen_at < cutoff - idle_limit())))
