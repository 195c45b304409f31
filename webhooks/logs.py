"""Logging for every process: one line per event of interest, as JSON (WEBHOOKS_LOG_FORMAT=json)
or human-readable text, through structlog (README: Operations, Logs).

Our events are logged with structlog (`log = logs.get_logger(__name__)`, then
`log.info("attempt recorded", delivery_id=…)`); the standard library's records (Flask,
gunicorn, RQ, our older `logging` calls) go through the same formatter, so every line of a
process has one shape. A line never holds a secret, credential, payload or response body:
callers pass ids, counts and categories only, and `_redact` blanks any field whose name says
it could hold a secret, should one slip in.
"""
import logging
import re
import sys
import time
import uuid

import structlog

_SECRET_NAME = re.compile(r"secret|token|password|passwd|authorization|signature|cookie|"
                          r"credential|api_key|payload|body", re.IGNORECASE)
REDACTED = "[redacted]"


def _redact(_, __, event_dict):
    for key in event_dict:
        if key != "event" and _SECRET_NAME.search(key):
            event_dict[key] = REDACTED
    return event_dict


_SHARED = [
    structlog.contextvars.merge_contextvars,  # request_id, bound per request
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _redact,
]

# Our structlog loggers hand their events to the standard library, whatever handler it has: the
# formatter below in the processes, pytest's capture in the tests.
structlog.configure(
    processors=[structlog.stdlib.filter_by_level, *_SHARED,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


def get_logger(name):
    return structlog.stdlib.get_logger(name)


def formatter(log_format):
    """Return the logging.Formatter of WEBHOOKS_LOG_FORMAT (json or text)."""
    if log_format == "json":
        final = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # The plain traceback: structlog's default (rich, when installed) prints each frame's
        # local variables, which can hold secrets.
        final = [structlog.dev.ConsoleRenderer(colors=False,
                                               exception_formatter=structlog.dev.plain_traceback)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final])


def configure(level="INFO", log_format="text", stream=None):
    """Send every log record of this process to one handler on stderr in log_format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a line of the same shape
    sys.excepthook = _log_uncaught  # and the traceback that ends the process
    for name in ("gunicorn.error", "rq.worker", "rq_scheduler.scheduler", "werkzeug"):
        # Libraries that install handlers of their own would print each line twice, or in
        # their own format: let their records reach the root's handler instead.
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Flask-Migrate's alembic announces its plugins at INFO in every process that starts.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _log_uncaught(kind, error, traceback):
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("webhooks").critical("uncaught exception, exiting",
                                           exc_info=(kind, error, traceback))


def configure_from(config):
    """configure() with an app's WEBHOOKS_LOG_LEVEL and WEBHOOKS_LOG_FORMAT."""
    configure(config["WEBHOOKS_LOG_LEVEL"], config["WEBHOOKS_LOG_FORMAT"])


# --- One line per request ------------------------------------------------------------------------

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_QUIET_ENDPOINTS = {"static", "web.healthz"}  # logged at DEBUG: load balancers call them often
_SECRET_ARGS = ("token",)  # route arguments never written to a log (single-use sign-in links)


def init_app(app):
    """Give each request an id (the router's X-Request-Id when it sends a sane one), bind it to
    every line logged meanwhile, answer it in X-Request-Id, and log the request when done."""
    from flask import g, request

    log = get_logger("webhooks.requests")

    @app.before_request
    def start():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def finish(response):
        if "request_id" not in g:  # a before_request handler answered before ours ran
            return response
        response.headers["X-Request-Id"] = g.request_id
        level = logging.DEBUG if request.endpoint in _QUIET_ENDPOINTS else logging.INFO
        log.log(level, "request", method=request.method, path=_path(request),
                route=request.url_rule.rule if request.url_rule else None,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - g.request_started) * 1000, 1))
        return response

    @app.teardown_request
    def forget(_error):
        structlog.contextvars.clear_contextvars()


def _path(request):
    """The request's path without its query string, a secret route argument blanked."""
    path = request.path
    for name in _SECRET_ARGS:
        value = (request.view_args or {}).get(name)
        if value:
            path = path.replace(str(value), REDACTED)
    return path
