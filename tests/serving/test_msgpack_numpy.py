"""Our numpy-in-msgpack encoding: equal to openpi's both ways, and strict about what it rebuilds."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from openpi_client import msgpack_numpy as openpi_msgpack

from vlastack.serving.msgpack_numpy import DecodeError, packb, unpackb

DTYPES = st.sampled_from(["uint8", "int16", "int32", "int64", "float16", "float32", "float64", "bool", ">f4", "<u2"])


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_arrays_round_trip_and_match_openpi(arr):
    ours = packb({"a": arr, "s": "text", "n": [1, 2.5, None]})
    assert ours == openpi_msgpack.packb({"a": arr, "s": "text", "n": [1, 2.5, None]})
    for decoded in (unpackb(ours), openpi_msgpack.unpackb(ours)):
        assert decoded["a"].dtype == arr.dtype and decoded["a"].shape == arr.shape
        np.testing.assert_array_equal(decoded["a"], arr)
        assert decoded["s"] == "text" and decoded["n"] == [1, 2.5, None]


def test_scalars_and_non_contiguous_arrays():
    view = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    out = unpackb(openpi_msgpack.packb({"v": view, "g": np.float32(1.5), "i": np.int64(-3)}))
    np.testing.assert_array_equal(out["v"], view)
    assert out["g"] == np.float32(1.5) and out["g"].dtype == np.float32
    assert out["i"] == -3 and out["i"].dtype == np.int64
    np.testing.assert_array_equal(unpackb(packb(view)), view)


def tagged(**fields):
    base = {b"__ndarray__": True, b"data": b"\x00" * 8, b"dtype": "<f4", b"shape": [2]}
    base.update({k.encode(): v for k, v in fields.items()})
    return msgpack.packb(base, use_bin_type=True)


@pytest.mark.parametrize(
    "payload, words",
    [
        (tagged(dtype="|O"), "not allowed"),
        (tagged(dtype="|V8"), "not allowed"),
        (tagged(dtype="<c8"), "not allowed"),
        (tagged(dtype="nonsense"), "not a numpy dtype"),
        (tagged(shape=[3]), "needs 12 bytes"),
        (tagged(shape=[2**62, 2**62]), "bytes"),
        (tagged(shape=[-2]), "non-negative"),
        (tagged(shape="2"), "shape"),
        (tagged(shape=[1] * 20), "at most"),
        (tagged(data="text"), "must be bytes"),
        (msgpack.packb({b"__ndarray__": True, b"data": b""}, use_bin_type=True), "lacks the field"),
        (b"\xc1", "not a valid msgpack"),
        (b"\x92\x01", "not a valid msgpack"),
        (b"\x01\x02", "not a valid msgpack"),
        (msgpack.packb({1: 2}), "not a valid msgpack"),
        (b"\x91" * 5000 + b"\x01", "not a valid msgpack"),
    ],
)
def test_strict_decoding_names_the_problem(payload, words):
    with pytest.raises(DecodeError, match=words):
        unpackb(payload)


def test_objects_refuse_to_encode():
    with pytest.raises(TypeError):
        packb({"a": np.array([object()])})
    with pytest.raises(TypeError):
        packb({"a": {1, 2}})
