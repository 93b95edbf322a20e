"""Arrow text columns built from whole Python lists, with no Python object or conversion per value.

``pa.array(list_of_str)`` converts each string on its own; for the intake's
hundreds of thousands of values a second that is a measurable share of a
request. These join the values once and describe them with offsets.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _column(n: int, lengths: np.ndarray, data: bytes) -> pa.Array:
    """A string column over ``data`` cut at ``lengths`` (int32 offsets, as ``pa.string()`` has, when
    they fit; past 2 GiB a large string column cast down, which refuses what cannot fit)."""
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data)).cast(pa.string())


def utf8_column(texts: list[bytes]) -> pa.Array:
    """UTF-8 texts (orjson's output and protobuf strings are always valid) as a string column."""
    n = len(texts)
    return _column(n, np.fromiter(map(len, texts), np.int64, n), b"".join(texts))


def hex_column(ids: list[bytes]) -> tuple[pa.Array, np.ndarray]:
    """Raw ids as a column of lowercase hex text (one ``hex()`` of them all), and their lengths in bytes."""
    n = len(ids)
    lengths = np.fromiter(map(len, ids), np.int64, n)
    return _column(n, lengths * 2, b"".join(ids).hex().encode("ascii")), lengths
