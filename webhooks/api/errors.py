"""The API's one error shape, {"errors": [{"path", "message"}]} as ingest answers, for every
refusal: HTTP errors, invalid bodies and query arguments (pydantic) and rate limits."""
from flask import abort, current_app, jsonify, make_response
from werkzeug.exceptions import HTTPException

from ..validation import json_path, json_type

_MESSAGES = {
    "missing": "is required.",
    "extra_forbidden": "is not a known field.",
}
_TYPE_ERRORS = {"string_type": "string", "int_type": "integer", "bool_type": "boolean",
                "list_type": "array", "dict_type": "object", "model_type": "object",
                "int_from_float": "integer", "float_type": "number"}


def problem(status, message, path="", headers=None):
    """Return a response with one error."""
    response = make_response(jsonify(errors=[{"path": path, "message": message}]), status)
    response.headers.update(headers or {})
    return response


def _message(error):
    kind = error["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind in _TYPE_ERRORS:
        got = json_type(error.get("input"))
        return f"must be of type {_TYPE_ERRORS[kind]}, not {got}."
    message = error["msg"]
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return message.rstrip(".") + "."


def pydantic_errors(error, prefix=""):
    """Return a pydantic ValidationError as [{"path", "message"}], in the order found."""
    found = []
    for item in error.errors(include_context=False):
        entry = {"path": json_path(item["loc"], prefix), "message": _message(item)}
        if entry not in found:
            found.append(entry)
    return found


def refuse_invalid(request, response, error, instance, *_):
    """spectree's hook before a view: answer an invalid request in our shape, with the status
    the operation documents (webhooks.api.operation)."""
    if error is not None:
        abort(make_response(jsonify(errors=pydantic_errors(error)), response.status_code))


def http_error(error):
    """Answer an HTTP error raised in the API (404, 405, 413, 429, ...) in the error shape."""
    if error.code == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = f"The body is larger than {limit // 1024} KiB ({limit} bytes)."
    elif error.code == 429:
        message = (f"Too many requests for this API key (limit: {error.description}); "
                   "retry after the number of seconds in Retry-After.")
    elif error.code == 404:
        message = "Not found."
    else:
        message = error.description
    response = problem(error.code, message)
    if isinstance(error, HTTPException) and error.code == 405:
        response.headers["Allow"] = error.get_response().headers.get("Allow", "")
    return response
