"""Fit -> save -> load gives identical tokens; fitting is deterministic, also across processes; load errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlastack.errors import CheckpointError, ConfigError
from vlastack.tokenizers import FastTokenizer, load_tokenizer, make_tokenizer
from vlastack.tokenizers.base import META_FILE
from vlastack.tokenizers.fast import BPE_FILE

KINDS = {"bins": {"n_bins": 64}, "fast": {"scale": 10.0, "vocab_size": 512}}


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), horizon=st.integers(1, 30), dim=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_fit_save_load_gives_identical_tokens(smooth_chunks, kind: str, horizon: int, dim: int, seed: int) -> None:
    chunks = smooth_chunks(seed, 40, horizon, dim)
    tok = make_tokenizer(kind, **KINDS[kind]).fit(chunks)
    probe = smooth_chunks(seed + 1, 10, horizon, dim)  # unseen chunks too, clipping included
    with tempfile.TemporaryDirectory() as tmp:
        first, second = Path(tmp, "a"), Path(tmp, "b")
        tok.save(first)
        loaded = load_tokenizer(first)
        assert type(loaded) is type(tok) and loaded.params() == tok.params()
        assert (loaded.horizon, loaded.action_dim, loaded.vocab_size) == (horizon, dim, tok.vocab_size)
        for batch in (chunks, probe):
            tokens = tok.encode_batch(batch)
            assert loaded.encode_batch(batch) == tokens
            for t in tokens[:5]:
                np.testing.assert_array_equal(loaded.decode(t).actions, tok.decode(t).actions)
        loaded.save(second)
        assert digest(first) == digest(second)  # save(load(x)) writes the same bytes


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_saved_state_is_plain_json(tmp_path: Path, smooth_chunks, kind: str) -> None:
    make_tokenizer(kind, **KINDS[kind]).fit(smooth_chunks(0, 30, 8, 3)).save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text(encoding="utf-8"))
    assert meta["kind"] == kind and meta["horizon"] == 8 and meta["action_dim"] == 3 and len(meta["stats"]["q01"]) == 3
    expected = {META_FILE, BPE_FILE} if kind == "fast" else {META_FILE}
    assert {p.name for p in tmp_path.iterdir()} == expected
    if kind == "fast":
        assert json.loads((tmp_path / BPE_FILE).read_text(encoding="utf-8"))["model"]["type"] == "BPE"


def test_fitting_twice_gives_the_same_files(tmp_path: Path, smooth_chunks) -> None:
    chunks = smooth_chunks(3, 300, 16, 4)
    FastTokenizer().fit(chunks).save(tmp_path / "a")
    FastTokenizer().fit(chunks.copy()).save(tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


FIT_SCRIPT = """
import sys, numpy as np
from vlastack.tokenizers import FastTokenizer
rng = np.random.default_rng(11)
chunks = np.cumsum(rng.normal(size=(400, 16, 4)), axis=1)
FastTokenizer().fit(chunks).save(sys.argv[1])
"""


def test_fitting_is_deterministic_across_processes(tmp_path: Path) -> None:
    """Another interpreter (other hash seeds, in Python and in the Rust BPE trainer) writes the same bytes."""
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", FIT_SCRIPT, str(tmp_path / "other")], check=True, env=env, timeout=120)
    rng = np.random.default_rng(11)
    FastTokenizer().fit(np.cumsum(rng.normal(size=(400, 16, 4)), axis=1)).save(tmp_path / "here")
    assert digest(tmp_path / "other") == digest(tmp_path / "here")


def test_load_errors_name_the_problem(tmp_path: Path, smooth_chunks) -> None:
    with pytest.raises(CheckpointError, match="tokenizer.json does not exist"):
        load_tokenizer(tmp_path / "missing")
    FastTokenizer().fit(smooth_chunks(0, 30, 8, 2)).save(tmp_path)
    meta_path = tmp_path / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({**meta, "kind": "fsat"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown action tokenizer 'fsat'. Did you mean 'fast'"):
        load_tokenizer(tmp_path)
    del meta["coeff_min"]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError, match="lacks FAST field 'coeff_min'"):
        load_tokenizer(tmp_path)
    meta_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="is not valid JSON"):
        load_tokenizer(tmp_path)


def test_saving_an_unfitted_tokenizer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not fitted"):
        FastTokenizer().save(tmp_path)
