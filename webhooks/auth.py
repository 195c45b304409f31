"""Sign in and out, with a short lockout after repeated failures for one address."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .extensions import db, htmx, login_manager
from .models import LoginThrottle, User, utcnow

bp = Blueprint("auth", __name__)

INVALID_LOGIN = "Invalid email or password."
LOCKED_OUT = "Too many failed sign-ins for this address. Try again in a few minutes."


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


@login_manager.user_loader
def load_user(user_id):
    return db.session.get(User, int(user_id))


@login_manager.unauthorized_handler
def unauthorized():
    """Send the visitor to sign in; an htmx request is redirected as a whole page, not swapped."""
    flash("Please sign in to continue.", "info")
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if htmx:
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def _throttle_for(email):
    return db.session.get(LoginThrottle, email) or LoginThrottle(email=email, failures=0)


def _is_locked(throttle):
    return throttle.locked_until is not None and throttle.locked_until > utcnow()


def _record_failure(throttle):
    throttle.failures = (throttle.failures or 0) + 1
    if throttle.failures >= current_app.config["LOGIN_MAX_FAILURES"]:
        seconds = current_app.config["LOGIN_LOCKOUT_SECONDS"]
        throttle.locked_until = utcnow() + timedelta(seconds=seconds)
        throttle.failures = 0
    db.session.add(throttle)
    db.session.commit()


def _safe_next(target):
    """Return target if it is a path on this site, else the home page."""
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/"):
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        throttle = _throttle_for(email)
        user = db.session.scalar(db.select(User).filter_by(email=email))
        if _is_locked(throttle):
            error = LOCKED_OUT
        elif user is None or not user.check_password(form.password.data):
            _record_failure(throttle)
            error = LOCKED_OUT if _is_locked(throttle) else INVALID_LOGIN
        else:
            if throttle.failures or throttle.locked_until:
                db.session.delete(throttle) if db.session.object_session(throttle) else None
                db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    """Sign the user out."""
    logout_user()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))
