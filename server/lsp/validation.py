"""One validation for everything a client sends: the JSON of a message's params (and of the
answers to the server's own requests) checked against lsprotocol's types *before* cattrs
structures it.

cattrs coerces where LSP does not: "3" becomes the integer 3, 1.5 becomes 1, true becomes
1, 5 becomes the string "5", the string "quickfix" becomes a list of its letters, and an
integer inside a `CodeActionKind | str` union passes through as is. Handlers written for
the types would then fail on values the types promise cannot be there. Here every value is
checked for its JSON type (an integer within LSP's 32-bit range, a finite number, a string,
a boolean, an array, an object with its required keys), so a bad one is refused with
InvalidParams naming the place (`params.context.only[0]: must be a string, not a number`).

What is not checked: the values of LSP's enumerations (a newer client may send members
this lsprotocol does not know, as LSP allows), `LSPAny` (settings and `data`, which their
own parsers check), and `initialize`'s client capabilities (read only through
`get_capability` with defaults, and too varied across real clients to refuse).
"""

from __future__ import annotations

import enum
import math
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import attrs
from lsprotocol import types

# LSP's `integer` and `uinteger` are 32-bit.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_UNCHECKED = {("initialize", "params.capabilities")}
_NONE = type(None)


class Invalid(ValueError):
    """A value of the wrong JSON type; the message names where it is."""


def _camel(name: str) -> str:
    name = name[:-1] if name.endswith("_") else name  # `from_` is "from"
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(JSON key, type, required) for each field of an lsprotocol attrs class."""
    hints = typing.get_type_hints(cls, vars(types))
    out = []
    for field in attrs.fields(cls):
        required = field.default is attrs.NOTHING
        out.append((_camel(field.name), hints.get(field.name, field.type), required))
    return tuple(out)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check(value: object, annotation: Any, path: str, method: str = "") -> None:
    """Raise Invalid when `value` (parsed JSON) does not fit `annotation`."""
    if (method, path) in _UNCHECKED or annotation is Any or annotation is object:
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        members = typing.get_args(annotation)
        if value is None and _NONE in members:
            return
        errors = []
        for member in members:
            if member is _NONE:
                continue
            try:
                check(value, member, path, method)
                return
            except Invalid as err:
                errors.append(err)
        # The error of a member of the value's own shape says most; else list the shapes.
        shaped = [
            e for e, m in zip(errors, [m for m in members if m is not _NONE]) if _shape(m, value)
        ]
        if shaped:  # the deepest says most: `...text: must be a string`
            raise max(shaped, key=lambda e: len(str(e).split(":", 1)[0]))
        wanted = " or ".join(sorted({_name(m) for m in members if m is not _NONE}))
        raise Invalid(f"{path}: must be {wanted}, not {_describe(value)}")
    if origin is typing.Literal:
        if value not in typing.get_args(annotation):
            allowed = ", ".join(repr(a) for a in typing.get_args(annotation))
            raise Invalid(f"{path}: must be {allowed}")
        return
    if origin in (list, tuple, Sequence, typing.Sequence) or annotation in (list, tuple):
        if not isinstance(value, list):
            raise Invalid(f"{path}: must be an array, not {_describe(value)}")
        args = typing.get_args(annotation)
        if args:
            for i, item in enumerate(value):
                check(item, args[0], f"{path}[{i}]", method)
        return
    if origin in (dict, Mapping, typing.Mapping) or annotation is dict:
        if not isinstance(value, dict):
            raise Invalid(f"{path}: must be an object, not {_describe(value)}")
        args = typing.get_args(annotation)
        if len(args) == 2:
            for key, item in value.items():
                check(item, args[1], f"{path}.{key}", method)
        return
    if annotation is _NONE:
        if value is not None:
            raise Invalid(f"{path}: must be null, not {_describe(value)}")
        return
    if isinstance(annotation, type):
        _check_type(value, annotation, path, method)


def _check_type(value: object, cls: type, path: str, method: str) -> None:
    if issubclass(cls, enum.Enum):
        base = int if issubclass(cls, int) else str
        _check_type(value, base, path, method)
        return
    if cls is bool:
        if not isinstance(value, bool):
            raise Invalid(f"{path}: must be true or false, not {_describe(value)}")
        return
    if cls is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # JSON has one number type: 3.0 is 3
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid(f"{path}: must be an integer, not {_describe(value)}")
        if not _INT_MIN <= value <= _INT_MAX:
            raise Invalid(f"{path}: {value} is outside LSP's 32-bit integers")
        return
    if cls is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise Invalid(f"{path}: must be a number, not {_describe(value)}")
        if not math.isfinite(value):
            raise Invalid(f"{path}: must be a finite number")
        return
    if cls is str:
        if not isinstance(value, str):
            raise Invalid(f"{path}: must be a string, not {_describe(value)}")
        return
    if attrs.has(cls):
        if not isinstance(value, dict):
            raise Invalid(f"{path}: must be an object, not {_describe(value)}")
        for key, annotation, required in _fields(cls):
            if key not in value:
                if required and not _optional(annotation):
                    raise Invalid(f"{path}.{key}: missing")
                continue
            check(value[key], annotation, f"{path}.{key}", method)


def _optional(annotation: Any) -> bool:
    return typing.get_origin(annotation) is typing.Union and _NONE in typing.get_args(annotation)


def _shape(annotation: Any, value: object) -> bool:
    """Whether `value` has the JSON shape of `annotation` (object, array or scalar)."""
    if isinstance(annotation, type) and attrs.has(annotation):
        return isinstance(value, dict)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, Sequence, typing.Sequence):
        return isinstance(value, list)
    return False


def _name(annotation: Any) -> str:
    if isinstance(annotation, type):
        if attrs.has(annotation) or issubclass(annotation, dict):
            return "an object"
        if issubclass(annotation, bool):
            return "a boolean"
        if issubclass(annotation, enum.Enum):
            return "an integer" if issubclass(annotation, int) else "a string"
        if issubclass(annotation, (int, float)):
            return "a number" if annotation is float else "an integer"
        if issubclass(annotation, str):
            return "a string"
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, Sequence, typing.Sequence):
        return "an array"
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in typing.get_args(annotation))
    return "a value of another type"


@cache
def _message_field(method: str, which: int, name: str) -> Any:
    """The type of field `name` of `method`'s request (which=0) or response (which=1)."""
    entry = types.METHOD_TO_TYPES.get(method)
    if entry is None or entry[which] is None:
        return None
    cls = entry[which]
    for key, annotation, _ in _fields(cls):
        if key == name:
            return annotation
    return None


def check_params(method: str, params: object) -> None:
    """Raise Invalid when a client's params do not fit `method` (unknown methods pass)."""
    annotation = _message_field(method, 0, "params")
    if annotation is None or annotation is _NONE:
        return
    if params is None and not _optional(annotation):
        raise Invalid("params: missing")
    check(params, annotation, "params", method)


def check_result(method: str, result: object) -> None:
    """Raise Invalid when a client's answer to the server's `method` does not fit."""
    annotation = _message_field(method, 1, "result")
    if annotation is None or annotation is _NONE:
        return
    check(result, annotation, "result", method)
