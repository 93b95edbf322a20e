"""The one table of Insights functions: name -> arity, parameter kinds, result type, renderer.

Parameter kinds: ``num``, ``str``, ``time``, ``bool``, ``any`` (value left as is),
``ordered`` (numbers for discovered fields, else as is), ``period`` (a literal time
period such as ``5m``), ``percent`` (a literal number 0-100). The generator converts each
argument to its kind (raising a QueryError naming the function when it cannot)
and hands the renderer the converted SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rexwatch.lang.insights.types import Ty

Render = Callable[[list[str]], str]


@dataclass(frozen=True, slots=True)
class Fn:
    name: str
    params: tuple[str, ...]  # kinds of the required and optional parameters, in order
    min_args: int
    result: Ty | None  # None: the type of the first argument
    render: Render
    variadic: str | None = None  # kind of any further arguments
    aggregate: bool = False
    star: bool = False  # accepts count(*)


def _period_floor(t: str, period: tuple[int, str]) -> str:
    amount, unit = period
    if unit == "ms":
        return (f"fromUnixTimestamp64Milli(intDiv(toUnixTimestamp64Milli({t}), {amount}) * {amount}, 'UTC')")
    unit_sql = {"s": "SECOND", "m": "MINUTE", "h": "HOUR", "d": "DAY", "w": "WEEK", "mo": "MONTH",
                "q": "QUARTER", "y": "YEAR"}[unit]
    return f"toDateTime64(toStartOfInterval({t}, INTERVAL {amount} {unit_sql}, 'UTC'), 3, 'UTC')"


def _period_interval(period: tuple[int, str]) -> str:
    amount, unit = period
    name = {"ms": "Millisecond", "s": "Second", "m": "Minute", "h": "Hour", "d": "Day", "w": "Week",
            "mo": "Month", "q": "Quarter", "y": "Year"}[unit]
    return f"toInterval{name}({amount})"


# bin() buckets of seconds are at most a minute, as Insights documents (bin(90s) is bin(60s)).
MAX_BIN_SECONDS = 60


def _bin(args: list) -> str:
    amount, unit = args[0]
    if unit == "s":
        amount = min(amount, MAX_BIN_SECONDS)
    return _period_floor("ts", (amount, unit))


def _ceil(args: list) -> str:
    t, period = args
    floor = _period_floor(t, period)
    return f"if({floor} = {t}, {floor}, {floor} + {_period_interval(period)})"


def _trim(fn: str) -> Render:
    def render(a: list[str]) -> str:
        return f"{fn}({a[0]})" if len(a) == 1 else f"{fn}({a[0]}, {a[1]})"

    return render


def _in_subnet(check: str) -> Render:
    def render(a: list[str]) -> str:
        ip = f"ifNull({a[0]}, '')"
        return f"({check.format(ip=ip)} AND isIPAddressInRange({ip}, {a[1]}))"

    return render


_VALID = "(isIPv4String({ip}) OR isIPv6String({ip}))"

FUNCTIONS: dict[str, Fn] = {f.name.lower(): f for f in [
    # -- string functions
    Fn("concat", ("str",), 1, Ty.STR, lambda a: "concat(" + ", ".join(f"ifNull({x}, '')" for x in a) + ")",
       variadic="str"),
    Fn("ltrim", ("str", "str"), 1, Ty.STR, _trim("trimLeft")),
    Fn("rtrim", ("str", "str"), 1, Ty.STR, _trim("trimRight")),
    Fn("trim", ("str", "str"), 1, Ty.STR, _trim("trimBoth")),
    Fn("strlen", ("str",), 1, Ty.NUM, lambda a: f"lengthUTF8({a[0]})"),
    Fn("toupper", ("str",), 1, Ty.STR, lambda a: f"upperUTF8({a[0]})"),
    Fn("tolower", ("str",), 1, Ty.STR, lambda a: f"lowerUTF8({a[0]})"),
    Fn("substr", ("str", "num", "num"), 2, Ty.STR,
       lambda a: f"substringUTF8({a[0]}, toInt64({a[1]}) + 1"
                 + (f", toInt64({a[2]}))" if len(a) == 3 else ")")),
    Fn("replace", ("str", "str", "str"), 3, Ty.STR, lambda a: f"replaceAll({a[0]}, {a[1]}, {a[2]})"),
    Fn("strcontains", ("str", "str"), 2, Ty.NUM, lambda a: f"toUInt8(position({a[0]}, {a[1]}) > 0)"),
    Fn("isempty", ("any",), 1, Ty.NUM, lambda a: f"toUInt8(ifNull(toString({a[0]}), '') = '')"),
    Fn("isblank", ("any",), 1, Ty.NUM, lambda a: f"toUInt8(trimBoth(ifNull(toString({a[0]}), '')) = '')"),
    # -- numeric functions
    Fn("abs", ("num",), 1, Ty.NUM, lambda a: f"abs({a[0]})"),
    Fn("ceil", ("num",), 1, Ty.NUM, lambda a: f"ceil({a[0]})"),
    Fn("floor", ("num",), 1, Ty.NUM, lambda a: f"floor({a[0]})"),
    Fn("greatest", ("num",), 1, Ty.NUM, lambda a: f"greatest({', '.join(a)})" if len(a) > 1 else a[0],
       variadic="num"),
    Fn("least", ("num",), 1, Ty.NUM, lambda a: f"least({', '.join(a)})" if len(a) > 1 else a[0], variadic="num"),
    Fn("log", ("num",), 1, Ty.NUM, lambda a: f"log({a[0]})"),
    Fn("sqrt", ("num",), 1, Ty.NUM, lambda a: f"sqrt({a[0]})"),
    Fn("pow", ("num", "num"), 2, Ty.NUM, lambda a: f"pow({a[0]}, {a[1]})"),
    # -- datetime functions
    Fn("bin", ("period",), 1, Ty.TIME, _bin),
    Fn("datefloor", ("time", "period"), 2, Ty.TIME, lambda a: _period_floor(a[0], a[1])),
    Fn("dateceil", ("time", "period"), 2, Ty.TIME, _ceil),
    Fn("fromMillis", ("num",), 1, Ty.TIME, lambda a: f"fromUnixTimestamp64Milli(toInt64({a[0]}), 'UTC')"),
    Fn("toMillis", ("time",), 1, Ty.NUM, lambda a: f"toUnixTimestamp64Milli({a[0]})"),
    # -- general functions
    Fn("ispresent", ("any",), 1, Ty.BOOL, lambda a: f"isNotNull({a[0]})"),
    Fn("coalesce", ("any",), 1, None, lambda a: f"coalesce({', '.join(a)})", variadic="any"),
    # -- IP address functions
    Fn("isValidIp", ("str",), 1, Ty.BOOL, lambda a: _VALID.format(ip=f"ifNull({a[0]}, '')")),
    Fn("isValidIpV4", ("str",), 1, Ty.BOOL, lambda a: f"isIPv4String(ifNull({a[0]}, ''))"),
    Fn("isValidIpV6", ("str",), 1, Ty.BOOL, lambda a: f"isIPv6String(ifNull({a[0]}, ''))"),
    Fn("isIpInSubnet", ("str", "str"), 2, Ty.BOOL, _in_subnet(_VALID)),
    Fn("isIpv4InSubnet", ("str", "str"), 2, Ty.BOOL, _in_subnet("isIPv4String({ip})")),
    Fn("isIpv6InSubnet", ("str", "str"), 2, Ty.BOOL, _in_subnet("isIPv6String({ip})")),
    # -- aggregate functions (stats)
    Fn("count", ("any",), 0, Ty.NUM, lambda a: f"count({a[0]})" if a else "count()", aggregate=True, star=True),
    Fn("count_distinct", ("any",), 1, Ty.NUM, lambda a: f"uniqExact({a[0]})", aggregate=True),
    Fn("sum", ("num",), 1, Ty.NUM, lambda a: f"sum({a[0]})", aggregate=True),
    Fn("avg", ("num",), 1, Ty.NUM, lambda a: f"avg({a[0]})", aggregate=True),
    Fn("min", ("ordered",), 1, None, lambda a: f"min({a[0]})", aggregate=True),
    Fn("max", ("ordered",), 1, None, lambda a: f"max({a[0]})", aggregate=True),
    Fn("stddev", ("num",), 1, Ty.NUM, lambda a: f"stddevSamp({a[0]})", aggregate=True),
    Fn("pct", ("num", "percent"), 2, Ty.NUM, lambda a: f"quantileExactInclusive({a[1]})({a[0]})",
       aggregate=True),
    Fn("earliest", ("any",), 1, None, lambda a: f"argMin({a[0]}, ts)", aggregate=True),
    Fn("latest", ("any",), 1, None, lambda a: f"argMax({a[0]}, ts)", aggregate=True),
    Fn("sortsFirst", ("str",), 1, Ty.STR, lambda a: f"min({a[0]})", aggregate=True),
    Fn("sortsLast", ("str",), 1, Ty.STR, lambda a: f"max({a[0]})", aggregate=True),
]}
