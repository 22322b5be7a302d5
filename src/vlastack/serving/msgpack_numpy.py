"""msgpack with numpy arrays, in the encoding openpi's client uses (no msgpack extension types).

An array travels as a map with byte-string keys::

    {b"__ndarray__": True, b"data": <raw bytes, C order>, b"dtype": "<f4", b"shape": [H, D]}

and a numpy scalar as ``{b"__npgeneric__": True, b"data": <python number>, b"dtype": "<f4"}``.
Everything else is plain msgpack (str, bytes, int, float, bool, None, lists, maps).

Decoding is strict, because the server decodes whatever a stranger sends: only numeric and bool
dtypes (no objects, no void, no pickle), a shape of non-negative ints whose product matches the
byte count exactly, and a bounded number of dimensions. Every problem is a :class:`DecodeError`
whose message says what was wrong. Decoded arrays are read-only views of the message bytes.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
import numpy as np

ND_KEY = b"__ndarray__"
GENERIC_KEY = b"__npgeneric__"
#: dtype kinds that may travel: bool, signed and unsigned ints, floats.
ALLOWED_KINDS = frozenset("biuf")
#: At most this many dimensions per array (images with history are 4-d; actions 2-d).
MAX_NDIM = 8


class DecodeError(ValueError):
    """A message is not valid msgpack, or holds an array that cannot be rebuilt safely."""


def _encode(obj: Any) -> Any:
    """msgpack ``default`` hook: numpy arrays and scalars -> tagged maps."""
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.kind not in ALLOWED_KINDS:
        raise TypeError(f"cannot send a numpy array of dtype {obj.dtype} (only bool, int, uint and float travel)")
    if isinstance(obj, np.ndarray):
        return {ND_KEY: True, b"data": obj.tobytes(order="C"), b"dtype": obj.dtype.str, b"shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return {GENERIC_KEY: True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot send an object of type {type(obj).__name__} over msgpack")


def _text(value: Any, field: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise DecodeError(f"array field {field!r} must be a string, got {type(value).__name__}")
    return value


def _dtype(value: Any) -> np.dtype:
    text = _text(value, "dtype")
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError) as err:
        raise DecodeError(f"array dtype {text!r} is not a numpy dtype") from err
    if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise DecodeError(f"array dtype {text!r} is not allowed (only bool, int, uint and float arrays)")
    return dtype


def _get(obj: dict, name: bytes) -> Any:
    for key in (name, name.decode()):
        if key in obj:
            return obj[key]
    raise DecodeError(f"array map lacks the field {name.decode()!r}")


def _decode(obj: dict) -> Any:
    """msgpack ``object_hook``: tagged maps -> numpy arrays and scalars; other maps unchanged."""
    if ND_KEY in obj or "__ndarray__" in obj:
        dtype = _dtype(_get(obj, b"dtype"))
        data, shape = _get(obj, b"data"), _get(obj, b"shape")
        if not isinstance(data, bytes):
            raise DecodeError(f"array data must be bytes, got {type(data).__name__}")
        if not isinstance(shape, (list, tuple)) or len(shape) > MAX_NDIM:
            raise DecodeError(f"array shape must be a list of at most {MAX_NDIM} ints, got {shape!r}"[:200])
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise DecodeError(f"array shape must hold non-negative ints, got {list(shape)!r}"[:200])
        if math.prod(shape) * dtype.itemsize != len(data):
            raise DecodeError(
                f"array of shape {list(shape)} and dtype {dtype.str} needs {math.prod(shape) * dtype.itemsize} bytes, "
                f"the message holds {len(data)}"
            )
        return np.frombuffer(data, dtype=dtype).reshape(shape)
    if GENERIC_KEY in obj or "__npgeneric__" in obj:
        dtype = _dtype(_get(obj, b"dtype"))
        value = _get(obj, b"data")
        if not isinstance(value, (bool, int, float)):
            raise DecodeError(f"numpy scalar data must be a number, got {type(value).__name__}")
        try:
            return dtype.type(value)
        except (OverflowError, ValueError, TypeError) as err:
            raise DecodeError(f"numpy scalar {value!r} does not fit dtype {dtype.str}") from err
    return obj


def packb(obj: Any) -> bytes:
    """Serialise ``obj`` (dicts, lists, numbers, strings, numpy arrays and scalars) to msgpack bytes."""
    return msgpack.packb(obj, default=_encode, use_bin_type=True)


def unpackb(data: bytes | bytearray | memoryview) -> Any:
    """Parse msgpack bytes; tagged maps become numpy arrays. Any problem is a :class:`DecodeError`."""
    try:
        return msgpack.unpackb(data, object_hook=_decode, raw=False, strict_map_key=True)
    except DecodeError:
        raise
    except (
        ValueError,
        TypeError,
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
        msgpack.UnpackValueError,
        OverflowError,
        RecursionError,
        UnicodeDecodeError,
    ) as err:
        raise DecodeError(f"not a valid msgpack message ({type(err).__name__}: {err})"[:300]) from err
