"""Type checks of decoded parameters against the operation's botocore input shape.

JSON and CBOR bodies can carry any value in any member; AWS answers a value of
the wrong type with a SerializationException before the operation runs. Doing
it once here keeps handlers free of ``isinstance`` checks and keeps a wrong
type from ever reaching a service as an unexpected exception (a 500).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from rexwatch.aws.errors import AwsError

_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (dt.datetime, int, float, str),
    "blob": (bytes, bytearray, str),
}
_SPECIAL_FLOATS = ("NaN", "Infinity", "-Infinity")
_JSON_NAMES = {list: "a list", dict: "an object", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


class Checked(dict):
    """Parameters a codec has type-checked against the input shape while decoding them."""


class ColumnarParams(Checked):
    """PutMetricData's parameters as a fast reader took them: only ``Namespace`` as a member, the
    items kept in the reader's columns. ``columns(now)`` gives them as the metrics service's
    ``MetricColumns``, or None when they need the handler's per-item path; ``materialize()``
    gives the parameters as the generic codec decodes them, for that path."""

    def __init__(
        self, namespace: str, columns: Callable[[dt.datetime], Any], items: Callable[[], list]
    ) -> None:
        super().__init__(Namespace=namespace)
        self.columns = columns
        self._items = items

    def materialize(self) -> dict[str, Any]:
        return {"Namespace": self["Namespace"], "MetricData": self._items()}


def check(value: Any, shape: Any, path: str = "") -> None:
    """Raise AwsError(SerializationException) naming the first member of the wrong type."""
    if shape is None or value is None or isinstance(value, Checked):
        return
    # Almost every request is well typed: check it without building member paths (a 1,000-item
    # PutMetricData has some 10,000 members), and walk again with paths only to name a failure.
    if _fine(value, shape):
        return
    _check(value, shape, path)


def _fine(value: Any, shape: Any) -> bool:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return False
        members = shape.members
        for name, v in value.items():
            if v is not None and (m := members.get(name)) is not None and not _fine(v, m):
                return False
        return True
    if kind == "list":
        if not isinstance(value, list):
            return False
        m = shape.member
        return all(v is None or _fine(v, m) for v in value)
    if kind == "map":
        if not isinstance(value, dict):
            return False
        m = shape.value
        return all(v is None or _fine(v, m) for v in value.values())
    allowed = _SCALARS.get(kind)
    if allowed is None:
        return True
    if isinstance(value, bool):
        return bool in allowed
    return isinstance(value, allowed) or (kind in ("float", "double") and value in _SPECIAL_FLOATS)


def _check(value: Any, shape: Any, path: str = "") -> None:
    if shape is None or value is None:
        return
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            _wrong(path or "request body", "an object", value)
        for name, member in shape.members.items():
            if name in value:
                _check(value[name], member, f"{path}.{name}" if path else name)
    elif kind == "list":
        if not isinstance(value, list):
            _wrong(path, "a list", value)
        for i, item in enumerate(value):
            _check(item, shape.member, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            _wrong(path, "an object", value)
        for k, v in value.items():
            _check(v, shape.value, f"{path}.{k}")
    else:
        allowed = _SCALARS.get(kind)
        if allowed is None:
            return
        if kind in ("float", "double") and value in _SPECIAL_FLOATS:
            return  # JSON carries NaN and infinities as these strings; services reject them by rule
        bad_bool = isinstance(value, bool) and bool not in allowed
        if bad_bool or not isinstance(value, allowed):
            _wrong(path, {"string": "a string", "boolean": "a boolean", "blob": "base64 text",
                          "timestamp": "a timestamp"}.get(kind, "a number"), value)


def _wrong(path: str, expected: str, value: Any) -> None:
    got = _JSON_NAMES.get(type(value), type(value).__name__)
    raise AwsError("SerializationException", f"{path} must be {expected}, not {got}")
