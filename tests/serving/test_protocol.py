"""Observation validation: each problem named with its key and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack import keys
from vlastack.serving.protocol import ObservationError, ObservationSpec
from vlastack.serving.runners import meta_world_spec

SPEC = meta_world_spec(image_size=(32, 32), touch_dim=2)
IMG = keys.image_key("corner2")


def good() -> dict:
    return {
        IMG: np.zeros((32, 32, 3), np.uint8),
        keys.STATE: np.zeros(4, np.float32),
        keys.TOUCH: np.zeros(2, np.float32),
        "prompt": "open the drawer",
    }


def test_good_observation_passes_and_reset_is_optional():
    out = SPEC.validate(good())
    assert out["prompt"] == "open the drawer" and out["reset"] is False
    assert SPEC.validate({**good(), "reset": True})["reset"] is True
    assert SPEC.validate({**good(), "prompt": b"bytes are fine"})["prompt"] == "bytes are fine"


def bad(**changes) -> dict:
    obs = good()
    for k, v in changes.items():
        k = {"img": IMG, "state": keys.STATE, "touch": keys.TOUCH}.get(k, k)
        if v is None:
            obs.pop(k)
        else:
            obs[k] = v
    return obs


@pytest.mark.parametrize(
    "obs, words",
    [
        ([1, 2], "must be a map"),
        (bad(state=None), r"missing keys \['observation.state'\]"),
        (bad(extra=np.zeros(1)), r"unexpected keys \['extra'\]"),
        ({**good(), b"raw": 1}, "keys must be strings"),
        (bad(state=np.zeros(4, np.float64)), r"'observation.state' must be float32 \[4\], got float64 \[4\].*astype"),
        (bad(state=np.zeros(5, np.float32)), r"'observation.state' must be float32 \[4\], got float32 \[5\]"),
        (bad(state=[0.0, 0.0, 0.0, 0.0]), r"must be a numpy array of float32 \[4\], got list"),
        (bad(img=np.zeros((64, 64, 3), np.uint8)), r"must be uint8 \[32, 32, 3\], got uint8 \[64, 64, 3\].*resize"),
        (bad(img=np.zeros((32, 32, 3), np.float32)), r"must be uint8 \[32, 32, 3\], got float32"),
        (bad(img=np.zeros((32, 32), np.uint8)), r"got uint8 \[32, 32\]"),
        (bad(state=np.array([0, np.nan, 0, 0], np.float32)), r"'observation.state' holds 1 non-finite"),
        (bad(touch=np.array([np.inf, 1], np.float32)), r"'observation.touch' holds 1 non-finite"),
        (bad(prompt=3), r"'prompt' must be a string"),
        (bad(prompt="  "), "must be non-empty"),
        (bad(prompt="x" * 3000), "at most 2000"),
        (bad(prompt=b"\xff\xfe"), "UTF-8"),
        (bad(reset="yes"), "'reset' must be a bool"),
    ],
)
def test_every_problem_is_named(obs, words):
    with pytest.raises(ObservationError, match=words):
        SPEC.validate(obs)


def test_spec_survives_the_metadata_round_trip():
    meta = SPEC.to_metadata()
    assert set(meta["observation"]) == {IMG, keys.STATE, keys.TOUCH, "prompt"}
    assert meta["observation"][IMG] == {"shape": [32, 32, 3], "dtype": "uint8", "description": SPEC.arrays[0].description}
    again = ObservationSpec.from_metadata(meta)
    assert again == SPEC
