"""The application factory: configuration, extensions, blueprints, commands and the queue."""
import logging
import os

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix


class SessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure whenever the request came over https; in the host's iframe,
    make it a partitioned third-party cookie (SameSite=None, Secure, Partitioned), the kind
    current browsers keep for a frame of another site."""

    def get_cookie_secure(self, app):
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure or _embedded()

    def get_cookie_samesite(self, app):
        return "None" if _embedded() else super().get_cookie_samesite(app)

    def get_cookie_partitioned(self, app):
        return _embedded() or super().get_cookie_partitioned(app)


def _embedded():
    from . import sessions  # as in create_app: the app's modules are imported when used

    return sessions.is_embedded()


def _instance_path():
    """WEBHOOKS_INSTANCE_PATH, made absolute; None (Flask's instance/ beside the code) if unset."""
    path = os.environ.get("WEBHOOKS_INSTANCE_PATH")
    return os.path.abspath(path) if path else None


def instance_path():
    """Return the instance folder create_app uses (for commands that run without the app)."""
    return Flask(__name__, instance_path=_instance_path()).instance_path


def create_app(test_config=None):
    """Create and configure the application."""
    app = Flask(__name__, instance_relative_config=True, template_folder="../templates",
                static_folder="../static", instance_path=_instance_path())
    from . import config

    app.config.from_mapping(config.from_environment(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          config.engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
    csrf_keys = config.csrf_keys(app.config)
    if csrf_keys and "WTF_CSRF_SECRET_KEY" not in app.config:
        app.config["WTF_CSRF_SECRET_KEY"] = csrf_keys
    # A form token lives in the session (new at each sign-in) and no longer than it can.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", int(app.config["WEBHOOKS_SESSION_HOURS"] * 3600))

    from . import logs

    if not app.testing and not logging.getLogger().handlers:
        logs.configure_from(app.config)  # flask run and commands; gunicorn and jobs set their own
    logs.init_app(app)  # first, so that every request has its id before anything else runs

    app.session_interface = SessionInterface()
    if app.config["WEBHOOKS_ENV"] == "production":
        # Behind the platform's router: trust one proxy for the scheme and client address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)

    from .extensions import csrf, db, htmx, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)

    from . import api, auth, cli, host_api, ingest, metrics, queue, web
    from .views import HostUserIdConverter, SlugConverter, log_history, reference
    from .views import activity as activity_views, apikeys as apikey_views
    from .views import recovery as recovery_views
    from .views import secret_rotation, webhooks as webhook_views

    app.url_map.converters.update(slug=SlugConverter, host_user=HostUserIdConverter)

    app.register_blueprint(auth.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(webhook_views.bp)
    app.register_blueprint(log_history.bp)
    app.register_blueprint(recovery_views.bp)
    app.register_blueprint(secret_rotation.bp)
    app.register_blueprint(apikey_views.bp)
    app.register_blueprint(activity_views.bp)
    app.register_blueprint(reference.bp)
    app.register_blueprint(ingest.bp)
    app.register_blueprint(host_api.bp)
    app.register_blueprint(metrics.bp)
    csrf.exempt(ingest.bp)
    csrf.exempt(host_api.bp)
    api.init_app(app)
    cli.init_app(app)
    queue.init_app(app)
    return app
