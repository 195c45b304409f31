"""Sign-in sessions kept on the server: the cookie only names one, so ending it is final.

Flask's own session lives entirely in the signed cookie: a copy taken before "Sign out" would
keep working. Here each sign-in writes a row; the cookie carries a random token whose hash
names the row; Flask-Login's user loader accepts the cookie only while the row is open, not
idle too long and not past its absolute lifetime.
"""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, session
from flask_login import login_user, logout_user

from .extensions import db
from .models import User, UserSession, utcnow

TOKEN = "sid"  # the key of the session token in Flask's cookie
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
KEEP_ENDED = timedelta(days=1)  # ended or expired rows of a user go at their next sign-in


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def idle_limit():
    return timedelta(minutes=current_app.config["WEBHOOKS_SESSION_IDLE_MINUTES"])


def absolute_limit():
    return timedelta(hours=current_app.config["WEBHOOKS_SESSION_HOURS"])


def start(user):
    """Sign user in with a new server-side session (and a new cookie and CSRF token)."""
    now = utcnow()
    _forget_old(user.id, now)
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(token_hash=_hash(token), user_id=user.id, created_at=now,
                               last_seen_at=now, expires_at=now + absolute_limit()))
    db.session.commit()
    session.clear()  # nothing from before sign-in carries over: no fixation, no old CSRF token
    session[TOKEN] = token
    login_user(user)


def user_of(user_id):
    """Return the signed-in user if this request's session is open, else None (Flask-Login)."""
    token = session.get(TOKEN)
    if not isinstance(token, str):
        return None
    found = db.session.execute(
        db.select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _hash(token), UserSession.user_id == user_id)
    ).first()
    if found is None:
        return None
    record, user = found
    now = utcnow()
    if record.ended_at is not None or now >= record.expires_at or now - record.last_seen_at >= idle_limit():
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        db.session.execute(db.update(UserSession).where(UserSession.id == record.id)
                           .values(last_seen_at=now))
        db.session.commit()
    return user


def end_current():
    """Sign out: end this session on the server and empty the cookie."""
    token = session.get(TOKEN)
    if isinstance(token, str):
        _end(UserSession.token_hash == _hash(token))
    logout_user()
    session.clear()


def end_all(user_id):
    """End every open session of a user (sign out everywhere, a new password); return how many."""
    return _end(UserSession.user_id == user_id)


def _end(condition):
    ended = db.session.execute(db.update(UserSession)
                               .where(condition, UserSession.ended_at.is_(None))
                               .values(ended_at=utcnow())).rowcount
    db.session.commit()
    return ended


def _forget_old(user_id, now):
    """Delete a user's sessions that ended or expired more than KEEP_ENDED ago."""
    cutoff = now - KEEP_ENDED
    db.session.execute(db.delete(UserSession).where(
        UserSession.user_id == user_id,
        db.or_(UserSession.ended_at < cutoff, UserSession.expires_at < cutoff,
               UserSession.last_seen_at < cutoff - idle_limit())))
