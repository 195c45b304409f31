"""The API's own description: the OpenAPI 3.1 document spectree generates from the routes and
models, a reference page rendered from that same document, and the event catalog."""
import copy

from flask import jsonify, render_template

from .. import catalog
from ..views import MAX_ID
from . import answers, bp, operation, spec
from .schemas import EventTypes

METHOD_ORDER = ("get", "post", "patch", "delete")


def document():
    """Return the OpenAPI document, with two corrections to what spectree generates: ids in
    paths are 64-bit (it calls every int argument int32), and a body whose fields all have
    defaults may be left out."""
    generated = copy.deepcopy(spec.spec)
    schemas = generated["components"]["schemas"]
    for methods in generated["paths"].values():
        for operation_ in methods.values():
            for parameter in operation_.get("parameters", ()):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    parameter["schema"].update(format="int64", minimum=0, maximum=MAX_ID)
            body = operation_.get("requestBody")
            if body:
                ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                body["required"] = bool(schemas[ref].get("required"))
    return generated


@bp.get("/openapi.json")
def openapi_document():
    """Serve the OpenAPI 3.1 document (public: it holds no data)."""
    return jsonify(document())


def _operations(document):
    """Return [(tag, [(method, path, operation), ...]), ...] in the document's order."""
    by_tag = {}
    for path, methods in document["paths"].items():
        for method in sorted(methods, key=METHOD_ORDER.index):
            operation = methods[method]
            tag = (operation.get("tags") or ["Other"])[0]
            by_tag.setdefault(tag, []).append((method, path, operation))
    return list(by_tag.items())


@bp.get("/docs")
def reference():
    """Show the API reference, rendered from the OpenAPI document."""
    generated = document()
    return render_template("api/reference.html", document=generated,
                           operations=_operations(generated),
                           schemas=generated["components"]["schemas"])


@bp.get("/event-types")
@operation(resp=answers(HTTP_200=EventTypes), tags=["Event types"])
def event_types():
    """List every event type: its kind, label, description, data schema and an example."""
    return EventTypes(data=catalog.as_json()["event_types"])
