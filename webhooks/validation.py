"""Checking event data against the catalog's schemas, with errors that name the field: binding
formats (RFC 3339 date-time, web URL, email), one validator per event type, and JSON paths."""
import re
from datetime import datetime, timezone
from functools import cached_property
from urllib.parse import urlsplit

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker

from . import event_types
from .catalog import BY_TYPE

DRAFT = event_types.DRAFT  # the JSON Schema dialect of every schema here

# RFC 3339 date-time with a mandatory zone ("Z" or ±hh:mm), as JSON Schema's "date-time" means.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)

# jsonschema only checks "date-time" and "uri" when optional packages are installed; these
# small checkers make the formats binding without a new dependency.
FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time", raises=(ValueError, OverflowError))
def is_datetime(value):
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    # ValueError on 2026-02-30 or 25:00; OverflowError when UTC falls outside years 1-9999
    # (0001-01-01T00:00:00+14:00): receivers convert to UTC, and so does the envelope.
    parse_datetime(value).astimezone(timezone.utc)
    return True


@FORMAT_CHECKER.checks("uri", raises=ValueError)
def is_web_url(value):
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("https", "http") and bool(parts.hostname) and " " not in value


@FORMAT_CHECKER.checks("email")
def is_email(value):
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in value)


def parse_datetime(value):
    """Return the aware datetime of an RFC 3339 string already accepted by the schema."""
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


def json_path(parts, prefix=""):
    """Return data.job.signers[0].email for the parts of a path below prefix."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
               float: "number", type(None): "null"}


def json_type(value):
    """Return the JSON type name of a parsed value: object, array, string, ..."""
    return _JSON_TYPES.get(type(value), "unknown")


def _problems(error, prefix):
    """Yield (path, message) pairs for one jsonschema error, naming the offending field itself."""
    where = list(error.absolute_path)
    if error.validator == "required":
        for name in error.validator_value:
            if isinstance(error.instance, dict) and name not in error.instance:
                yield json_path([*where, name], prefix), "is required."
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        for name in error.instance:
            if name not in known:
                yield json_path([*where, name], prefix), "is not a known field."
    elif error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        got = json_type(error.instance)
        yield json_path(where, prefix), f"must be of type {expected}, not {got}."
    elif error.validator == "format" and isinstance(error.cause, OverflowError):
        yield json_path(where, prefix), (f"is out of range: it must convert to a UTC time between years "
                                         f"0001 and 9999; got {_describe(error.instance)}.")
    elif error.validator == "format":
        hint = {"date-time": "an RFC 3339 date-time with a zone, e.g. 2026-11-28T10:00:00Z",
                "uri": "an http(s) URL", "email": "an email address"}.get(error.validator_value,
                                                                          error.validator_value)
        yield json_path(where, prefix), f"must be {hint}; got {_describe(error.instance)}."
    elif error.validator == "pattern":
        yield (json_path(where, prefix),
               f"{_describe(error.instance)} does not match the pattern {error.validator_value}.")
    else:
        yield json_path(where, prefix), error.message if len(error.message) <= 200 else (
            error.message[:197] + "...")


def errors_of(validator, instance, prefix=""):
    """Return every schema problem as [{"path", "message"}], sorted by path, without repeats."""
    seen = {}
    for error in validator.iter_errors(instance):
        for path, message in _problems(error, prefix):
            seen.setdefault((path, message), None)
    return [{"path": path, "message": message} for path, message in sorted(seen)]


def _never_raising(check):
    def checked(value):
        try:
            return check(value)
        except (ValueError, OverflowError):
            return False
    return checked


# The same binding formats for the compiled validators, which want True or False.
_COMPILED_FORMATS = {name: _never_raising(function)
                     for name, (function, _raises) in FORMAT_CHECKER.checkers.items()}


class SchemaCheck:
    """A JSON Schema checked two ways: compiled to Python by fastjsonschema, which tells in
    microseconds that a document is valid (the usual case), and by jsonschema, which lists
    every problem with its path when it is not (about 15 times slower).

    Only jsonschema's answer is ever shown: a document the compiled check refuses is checked
    again by jsonschema, so the answer can differ from jsonschema's alone only if the compiled
    check accepts something jsonschema would refuse (tests/unit/test_validation_fast.py).
    """

    def __init__(self, schema):
        self.schema = schema
        self.validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)

    @cached_property
    def _compiled(self):  # made at first use: compiling every schema costs about 70 ms
        return fastjsonschema.compile(self.schema, formats=_COMPILED_FORMATS)

    def accepts(self, instance):
        """Return whether the compiled check finds instance valid (False on any doubt)."""
        try:
            self._compiled(instance)
        except Exception:  # JsonSchemaValueException, or input it cannot handle
            return False
        return True

    def errors(self, instance, prefix=""):
        """Return every problem of instance as errors_of does ([] when it is valid)."""
        if self.accepts(instance):
            return []
        return errors_of(self.validator, instance, prefix)


_CHECKS = {t.type: SchemaCheck(t.schema) for t in BY_TYPE.values()}


def validate_data(event_type, data):
    """Return the problems of data for a known event type, with paths like data.job.id."""
    return _CHECKS[event_type].errors(data, prefix="data")
