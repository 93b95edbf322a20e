"""Arrow text columns built from whole Python lists, with no Python object or conversion per value.

``pa.array(list_of_str)`` converts each string on its own; for the intake's
hundreds of thousands of values a second that is a measurable share of a
request. These join the values once and describe them with offsets.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _offsets(lengths: np.ndarray) -> pa.Buffer:
    out = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=out[1:])
    return pa.py_buffer(out)


def utf8_column(texts: list[bytes]) -> pa.Array:
    """UTF-8 texts (orjson's output and protobuf strings are always valid) as a string column."""
    n = len(texts)
    lengths = np.fromiter(map(len, texts), np.int64, n)
    return pa.LargeStringArray.from_buffers(n, _offsets(lengths), pa.py_buffer(b"".join(texts))).cast(pa.string())


def hex_column(ids: list[bytes]) -> tuple[pa.Array, np.ndarray]:
    """Raw ids as a column of lowercase hex text (one ``hex()`` of them all), and their lengths in bytes."""
    n = len(ids)
    lengths = np.fromiter(map(len, ids), np.int64, n)
    data = b"".join(ids).hex().encode("ascii")
    return pa.LargeStringArray.from_buffers(n, _offsets(lengths * 2), pa.py_buffer(data)).cast(pa.string()), lengths
