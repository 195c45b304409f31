"""Sign in and out (here or everywhere), with a short lockout after repeated failures for one address."""
import secrets
from datetime import timedelta
from functools import cache
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from . import handoff, provisioning, sessions
from .extensions import db, htmx, login_manager
from .models import LoginThrottle, User, utcnow
from .redirects import local_path_or
from .text import NoControlCharacters

bp = Blueprint("auth", __name__)

INVALID_LOGIN = "Invalid email or password."
LOCKED_OUT = "Too many failed sign-ins for this address. Try again in a few minutes."
MISSING_FIELDS = "Enter your email and password."


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(MISSING_FIELDS), Length(max=254),
                                            NoControlCharacters()])
    password = PasswordField("Password", validators=[DataRequired(MISSING_FIELDS), Length(max=1024),
                                                     NoControlCharacters()])


@login_manager.user_loader
def load_user(user_id):
    return sessions.user_of(int(user_id))


@login_manager.unauthorized_handler
def unauthorized():
    """Send the visitor to sign in; an htmx request is redirected as a whole page, not swapped."""
    flash("Please sign in to continue.", "info")
    if htmx:
        # Come back to the page the fragment was part of, not to the fragment itself.
        page = urlsplit(htmx.current_url or "")
        back = page.path + (f"?{page.query}" if page.query else "") if page.path else None
        return "", 401, {"HX-Redirect": url_for("auth.login", next=back)}
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _is_locked(email):
    until = db.session.scalar(db.select(LoginThrottle.locked_until).filter_by(email=email))
    return until is not None and until > utcnow()


def _forget_stale_failures(now):
    """Delete throttles whose last failure and lockout are over: unknown addresses tried once
    would otherwise stay forever."""
    table = LoginThrottle.__table__
    cutoff = now - timedelta(seconds=current_app.config["LOGIN_LOCKOUT_SECONDS"])
    db.session.execute(db.delete(table).where(
        db.or_(table.c.last_failure_at < cutoff, table.c.last_failure_at.is_(None)),
        db.or_(table.c.locked_until < now, table.c.locked_until.is_(None))))


def _record_failure(email):
    """Count a failed sign-in atomically (parallel guesses all count); lock at the limit."""
    table, now = LoginThrottle.__table__, utcnow()
    _forget_stale_failures(now)
    bump = (db.update(table).where(table.c.email == email)
            .values(failures=table.c.failures + 1, last_failure_at=now).returning(table.c.failures))
    failures = db.session.execute(bump).scalar()
    if failures is None:
        try:
            with db.session.begin_nested():
                db.session.execute(db.insert(table).values(email=email, failures=1,
                                                           last_failure_at=now))
            failures = 1
        except IntegrityError:  # another request counted the first failure meanwhile
            failures = db.session.execute(bump).scalar()
    if failures >= current_app.config["LOGIN_MAX_FAILURES"]:
        lock_for = timedelta(seconds=current_app.config["LOGIN_LOCKOUT_SECONDS"])
        db.session.execute(db.update(table).where(table.c.email == email)
                           .values(failures=0, locked_until=utcnow() + lock_for))
    db.session.commit()


def _clear_failures(email):
    db.session.execute(db.delete(LoginThrottle).where(LoginThrottle.email == email))
    db.session.commit()


@cache
def _dummy_hash():
    return generate_password_hash(secrets.token_urlsafe(16))


def _authenticate(email, password):
    """Return the user whose password matches, else None, spending the same time either way."""
    user = db.session.scalar(db.select(User).filter_by(email=email))
    if user is None:
        check_password_hash(_dummy_hash(), password)  # no timing hint about which emails exist
        return None
    return user if user.check_password(password) else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    if not current_app.config["WEBHOOKS_PASSWORD_LOGIN"]:
        return render_template("auth/from_host.html"), 200 if request.method == "GET" else 403
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if _is_locked(email):
            error = LOCKED_OUT
        else:
            user = _authenticate(email, form.password.data)
            if user is None:
                _record_failure(email)
                error = LOCKED_OUT if _is_locked(email) else INVALID_LOGIN
            else:
                _clear_failures(email)
                sessions.start(user)
                return redirect(local_path_or(request.args.get("next"), url_for("web.home")))
    elif form.is_submitted():
        error = next(iter(form.errors.values()), [MISSING_FIELDS])[0]
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.get("/sign-in/<token>")
def follow_sign_in_link(token):
    """Sign in with a single-use link from the host application and land on the tab."""
    claims = handoff.redeem(token)
    if claims is None:
        return render_template("auth/link_expired.html"), 410
    try:
        org, user = handoff.provision(claims)
    except provisioning.Conflict as conflict:
        db.session.rollback()
        return render_template("auth/link_expired.html", conflict=str(conflict)), 409
    embedded = claims["embedded"] or request.headers.get("Sec-Fetch-Dest") == "iframe"
    sessions.start(user, organization=org, read_only=claims["read_only"],
                   lifetime=handoff.session_length(claims), embedded=embedded)
    return redirect(claims["return_to"] or url_for("webhooks.index", slug=org.slug))


@bp.post("/logout")
def logout():
    """Sign the user out: this session ends on the server, a copy of its cookie is worthless."""
    sessions.end_current()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    """End every session of the user, in every browser and device, this one included."""
    ended = sessions.end_all(current_user.id)  # this one included
    sessions.forget_cookie()
    others = ended - 1
    flash("You have been signed out everywhere"
          + (f" ({others} other session{'s' if others != 1 else ''} ended)." if others > 0 else "."),
          "info")
    return redirect(url_for("auth.login"))
