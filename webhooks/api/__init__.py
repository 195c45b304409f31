"""The management API under /api/v1: what the Webhooks tab does, for code. Organization API
keys authenticate (webhooks.api.auth); the actions are the UI's own (lifecycle, history,
secret_rotation, custom_headers); the pydantic models in schemas.py validate requests and
answers and generate the OpenAPI document (webhooks.api.reference)."""
from flask import Blueprint, current_app, request
from flask_limiter import Limiter
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from werkzeug.exceptions import HTTPException

from ..extensions import csrf
from . import auth, bodies, errors, idempotency
from .schemas import Errors

bp = Blueprint("api", __name__, url_prefix="/api/v1")

spec = SpecTree(
    "flask", mode="strict", title="Webhooks management API", version="1",
    description="Manage an organization's webhooks, read their Log History and resend "
                "deliveries. Authenticate with an organization API key: "
                "`Authorization: Bearer whk_live_…` (read keys may only use GET). "
                "Errors always have the shape {\"errors\": [{\"path\", \"message\"}]}. "
                "Every POST honours an Idempotency-Key header for 24 hours.",
    page_templates={}, validation_error_model=Errors, before=errors.refuse_invalid,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda parent, child: child,
    security_schemes=[SecurityScheme(name="apiKey", data=SecuritySchemeData(
        type="http", scheme="bearer", description="An organization API key: whk_live_…"))],
    security={"apiKey": []},
)
# spectree finds the documented routes through the blueprint it is registered on; its own
# document route and pages are not wanted (webhooks.api.reference serves the document).
bp.record(lambda state: setattr(spec.backend, "blueprint_state", state))

PUBLIC = {"api.openapi_document", "api.reference"}


# What any operation may answer besides its own: no usable key, a read key writing, too many
# requests; and for a body, an unreadable one (400), too large (413), not JSON (415), or an
# Idempotency-Key still in use (409) or used for another request (422).
READ_REFUSALS = {"HTTP_401": Errors, "HTTP_403": Errors, "HTTP_429": Errors}
WRITE_REFUSALS = {**READ_REFUSALS, "HTTP_400": Errors, "HTTP_409": Errors, "HTTP_413": Errors,
                  "HTTP_415": Errors, "HTTP_422": Errors}


def answers(*, write=False, **statuses):
    """Return the documented answers of an operation: its own and the refusals it can give."""
    return Response(**{**(WRITE_REFUSALS if write else READ_REFUSALS), **statuses})


def operation(**documented):
    """Validate a view's query or body and answer with spectree, and document it: operationId
    is the view's name; an invalid query answers 400, an invalid body 422."""
    def decorate(view):
        status = 400 if "query" in documented and "json" not in documented else 422
        return spec.validate(operation_id=view.__name__, validation_error_status=status,
                             **documented)(view)
    return decorate


def _is_api_call():
    return request.blueprint == "api" and request.endpoint not in PUBLIC


@bp.before_request
def authenticate_and_read_body():
    """Refuse requests without a usable key or with an unreadable body; replay idempotent
    repeats."""
    if not _is_api_call():
        return None
    refused = auth.refusal()
    if refused:
        return refused
    document, refused = bodies.read()
    if refused:
        return refused
    return idempotency.begin(auth.current_key(), document)


@bp.after_request
def remember_idempotent_answer(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return idempotency.finish(response)


bp.register_error_handler(HTTPException, errors.http_error)


def _retry_after_only_when_limited(response):
    """Flask-Limiter sends Retry-After with every answer; it means something only on a 429."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def init_app(app):
    """Register the API with its rate limiter: per key, in Redis with the rq queue, in memory
    in the embedded mode."""
    from . import activity, deliveries, recoveries, reference, webhooks

    # Imported for their routes, which must exist before the blueprint is registered.
    app.extensions["api_routes"] = (webhooks, deliveries, recoveries, reference, activity)
    app.register_blueprint(bp)
    csrf.exempt(bp)
    storage = app.config["REDIS_URL"] if app.config["WEBHOOKS_QUEUE"] == "rq" else "memory://"
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.after_request(_retry_after_only_when_limited)  # runs after the limiter's own hook
    app.extensions["api_limiter"] = Limiter(
        auth.rate_limit_key, app=app, key_prefix="webhooks-api",
        application_limits=[lambda: current_app.config["WEBHOOKS_API_RATE_LIMIT"]],
        application_limits_exempt_when=lambda: not _is_api_call())
