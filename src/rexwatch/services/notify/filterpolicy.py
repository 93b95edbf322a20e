"""SNS subscription filter policies: validation and matching.

A policy is a JSON object; every top-level key must match (AND), and a key
matches when any of its conditions does (OR). ``"$or": [policy, ...]`` matches
when any sub-policy does. Conditions: exact strings, numbers, ``null``,
``{"prefix"}``, ``{"suffix"}``, ``{"equals-ignore-case"}``,
``{"anything-but": value | [values] | {"prefix": ...}}``,
``{"numeric": [op, n, (op, n)]}`` and ``{"exists": bool}``.

Scope ``MessageAttributes`` (default) reads the message attributes (String,
Number, String.Array); scope ``MessageBody`` reads the JSON message, where
policy objects nest like the payload.
"""

from __future__ import annotations

import json
import operator
from typing import Any

from rexwatch.errors import Invalid

_NUMERIC_OPS = {"=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_MISSING = object()
MAX_KEYS = 5
MAX_COMBINATIONS = 150


def parse(text: str, scope: str = "MessageAttributes") -> dict[str, Any]:
    """Parse and validate a policy; raise Invalid naming the problem."""
    try:
        policy = json.loads(text)
    except ValueError as e:
        raise Invalid(f"Invalid parameter: FilterPolicy: not valid JSON: {e}", field="FilterPolicy")
    if not isinstance(policy, dict):
        raise Invalid("Invalid parameter: FilterPolicy: must be a JSON object", field="FilterPolicy")
    combos = _validate(policy, scope == "MessageBody", "")
    if combos > MAX_COMBINATIONS:
        raise Invalid(
            f"Invalid parameter: FilterPolicy: Filter policy is too complex ({combos} combinations, "
            f"at most {MAX_COMBINATIONS})",
            field="FilterPolicy",
        )
    return policy


def _bad(path: str, why: str) -> Invalid:
    return Invalid(f"Invalid parameter: FilterPolicy: {path or 'policy'}: {why}", field="FilterPolicy")


def _validate(policy: dict[str, Any], nested: bool, path: str) -> int:
    keys = [k for k in policy if k != "$or"]
    if not nested and len(keys) > MAX_KEYS:
        raise _bad(path, f"at most {MAX_KEYS} attribute names")
    combos = 1
    for key, cond in policy.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(cond, list) or len(cond) < 2 or not all(isinstance(c, dict) for c in cond):
                raise _bad(where, "$or needs a list of at least two policy objects")
            combos *= sum(_validate(c, nested, path) for c in cond)
        elif isinstance(cond, dict):
            if not nested:
                raise _bad(where, "nested objects need FilterPolicyScope MessageBody")
            combos *= _validate(cond, nested, where)
        elif isinstance(cond, list):
            if not cond:
                raise _bad(where, "empty list of conditions")
            for c in cond:
                _validate_condition(c, where)
            combos *= len(cond)
        else:
            raise _bad(where, "conditions must be given in a list")
    return combos


def _validate_condition(c: Any, where: str) -> None:
    if c is None or isinstance(c, str | bool):
        return
    if isinstance(c, int | float):
        return
    if not isinstance(c, dict) or len(c) != 1:
        raise _bad(where, f"unsupported condition {json.dumps(c)}")
    ((op, arg),) = c.items()
    if op in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(arg, str):
            raise _bad(where, f"{op} needs a string")
    elif op == "anything-but":
        ok = (
            (isinstance(arg, str | int | float) and not isinstance(arg, bool))
            or (isinstance(arg, list) and arg and all(isinstance(a, str | int | float) for a in arg))
            or (isinstance(arg, dict) and list(arg) == ["prefix"] and isinstance(arg["prefix"], str))
        )
        if not ok:
            raise _bad(where, 'anything-but needs a value, a list of values or {"prefix": ...}')
    elif op == "numeric":
        if not isinstance(arg, list) or len(arg) not in (2, 4):
            raise _bad(where, "numeric needs [op, number] or [op, number, op, number]")
        for i in range(0, len(arg), 2):
            if (
                arg[i] not in _NUMERIC_OPS
                or not isinstance(arg[i + 1], int | float)
                or isinstance(arg[i + 1], bool)
            ):
                raise _bad(where, f"numeric: bad operator or value {arg[i]!r} {arg[i + 1]!r}")
        if len(arg) == 4 and (arg[0] not in (">", ">=") or arg[2] not in ("<", "<=")):
            raise _bad(where, "numeric range must be lower bound then upper bound")
    elif op == "exists":
        if not isinstance(arg, bool):
            raise _bad(where, "exists needs true or false")
    else:
        raise _bad(where, f"unknown operator {op!r}")


# Matching ------------------------------------------------------------------------------------------


def attributes_view(attributes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """MessageAttributes ({Name: {DataType, StringValue}}) as plain values for matching."""
    out: dict[str, Any] = {}
    for name, attr in attributes.items():
        dtype = (attr.get("DataType") or "String").split(".")
        raw = attr.get("StringValue")
        if raw is None:
            continue  # binary attributes never match
        if dtype[0] == "Number":
            try:
                out[name] = float(raw)
            except ValueError:
                out[name] = raw
        elif dtype[0] == "String" and len(dtype) > 1 and dtype[1] == "Array":
            try:
                out[name] = json.loads(raw)
            except ValueError:
                out[name] = raw
        else:
            out[name] = raw
    return out


def matches(policy: dict[str, Any], scope: str, message: str, attributes: dict[str, Any]) -> bool:
    if scope == "MessageBody":
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        if not isinstance(doc, dict):
            return False
        return _match_obj(policy, doc)
    return _match_obj(policy, attributes_view(attributes))


def _match_obj(policy: dict[str, Any], doc: dict[str, Any]) -> bool:
    for key, cond in policy.items():
        if key == "$or":
            if not any(_match_obj(sub, doc) for sub in cond):
                return False
            continue
        value = doc.get(key, _MISSING) if isinstance(doc, dict) else _MISSING
        if isinstance(cond, dict):
            if not isinstance(value, dict) or not _match_obj(cond, value):
                return False
            continue
        if not _match_conditions(cond, value):
            return False
    return True


def _match_conditions(conds: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for c in conds:
        if isinstance(c, dict) and "exists" in c:
            if c["exists"] == (value is not _MISSING):
                return True
            continue
        if isinstance(c, dict) and "anything-but" in c:
            if value is _MISSING:
                continue
            if all(_anything_but(c["anything-but"], v) for v in values):
                return True
            continue
        if any(v is not _MISSING and _match_one(c, v) for v in values):
            return True
    return False


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    return None


def _match_one(c: Any, v: Any) -> bool:
    if c is None:
        return v is None
    if isinstance(c, bool):
        return v is c
    if isinstance(c, int | float):
        n = _num(v)
        return n is not None and n == float(c)
    if isinstance(c, str):
        return isinstance(v, str) and v == c
    ((op, arg),) = c.items()
    if op == "prefix":
        return isinstance(v, str) and v.startswith(arg)
    if op == "suffix":
        return isinstance(v, str) and v.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(v, str) and v.lower() == arg.lower()
    if op == "numeric":
        n = _num(v)
        if n is None:
            return False
        return all(_NUMERIC_OPS[arg[i]](n, float(arg[i + 1])) for i in range(0, len(arg), 2))
    return False


def _anything_but(arg: Any, v: Any) -> bool:
    if isinstance(arg, dict):
        return not (isinstance(v, str) and v.startswith(arg["prefix"]))
    excluded = arg if isinstance(arg, list) else [arg]
    return not any(_match_one(e, v) for e in excluded)
