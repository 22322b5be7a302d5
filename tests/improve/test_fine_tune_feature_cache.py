"""``vlastack improve`` fine-tuning on the frozen trunk's cached maps (``ImproveConfig.feature_cache``): the rounds
read the maps of the demonstrations and of the gathered data and never run the trunk on a training batch, the
loss is the uncached one up to the cache's float16 rounding, a grown gathered dataset keeps one cache, and a
resumed run or a policy without a frozen trunk is refused with the option named.
Tiny fake datasets (no simulator) and random trunk weights in place of the ImageNet file."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.data.windows import WindowDataset
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError
from vlastack.improve.interventions import EXPERT_ACTION, INTERVENTION
from vlastack.improve.rounds import ImproveConfig, _check_same_run, _fine_tune, improve
from vlastack.policies.components import effnet_weights
from vlastack.policies.components.effnet_lite import EfficientNetLite0, FrozenEffNetTrunk
from vlastack.policies.presets import PRESETS
from vlastack.policies.untrained import untrained_policy
from vlastack.training.feature_caches import cache_encoder, open_camera_caches

CAM = keys.image_key("corner2")
#: l1-debug on the frozen trunk at 32 px (stride-8 maps 40 x 4 x 4); no shift augmentation, so the cached and
#: uncached losses differ by the float16 rounding of the maps alone.
EFFNET = replace(PRESETS.get("l1-debug").policy, vision="effnet_lite0", vision_stride=8, vision_width=8, augment_shift=0)


@pytest.fixture
def fake_imagenet(monkeypatch):
    """Random trunk weights in place of the package's file, for the policy and the cache's encoder alike."""
    torch.manual_seed(1)
    state = {k: v.clone() for k, v in EfficientNetLite0(None).state_dict().items()}
    monkeypatch.setattr(effnet_weights, "load_effnet_lite0_weights", lambda cache=None: state)
    return state


@pytest.fixture
def trunk_calls(monkeypatch):
    """Frames through the frozen trunk in this process, one entry per forward call."""
    calls: list[int] = []
    real = FrozenEffNetTrunk.forward
    monkeypatch.setattr(FrozenEffNetTrunk, "forward", lambda self, x: calls.append(len(x)) or real(self, x))
    return calls


def _add(root, make_episode, lengths, seed0=0):
    """Episodes as assisted DAgger episodes are stored: operator flags and the expert's own action per frame."""
    writer = DatasetWriter(root)
    for i, n in enumerate(lengths):
        ep = make_episode(n, seed0 + i, size=32)
        ep.frames[INTERVENTION] = (np.arange(n) % 3 != 0)[:, None]
        ep.frames[EXPERT_ACTION] = np.clip(ep.frames[keys.ACTION][::-1] * 0.5, -1, 1).astype(np.float32)
        writer.add_episode(ep)


def _run(tmp_path, make_episode, policy_cfg=EFFNET, **options):
    """A starting policy, 2 demonstrations and 2 gathered episodes under ``tmp_path``; the improve config over them."""
    start = untrained_policy(policy_cfg).save_pretrained(tmp_path / "start")
    _add(tmp_path / "demos", make_episode, [9, 7])
    _add(tmp_path / "out" / "data", make_episode, [8, 6], seed0=10)
    defaults = dict(method="dagger", steps=2, batch_size=4, new_data_weight=1)
    return ImproveConfig(checkpoint=start, demos=tmp_path / "demos", tasks=("reach-v3",), out=tmp_path / "out", **{**defaults, **options})


def _frames(root) -> int:
    reader = DatasetReader(root)
    return sum(reader.length(e) for e in range(reader.num_episodes))


def test_a_cached_round_reads_the_maps_and_never_runs_the_trunk_on_a_batch(tmp_path, make_episode, fake_imagenet, trunk_calls):
    config = _run(tmp_path, make_episode, feature_cache=True)
    checkpoint, _ = _fine_tune(config, config.checkpoint, 1, progress=False)
    assert checkpoint.name.endswith("2")  # both steps trained
    # every frame of both datasets once, to build their caches; no batch of the 2 steps went through the trunk
    assert sum(trunk_calls) == _frames(config.demos) + _frames(config.out / "data")
    run = json.loads((config.out / "round_1" / "train" / "run.json").read_text())
    assert run["train"]["feature_cache"] is True and run["train"]["feature_cache_shifts"] == 1
    files = run["feature_cache"]["files"]
    assert (
        len(files) == 2 and files[0].startswith(str(config.demos.resolve())) and files[1].startswith(str((config.out / "data").resolve()))
    )
    assert run["feature_cache"]["identity"]["output_stride"] == 8 and run["improve"]["feature_cache"] is True

    # Round 2: the gathered dataset grew. Its cache is rebuilt (its frames only: the demonstrations' is reused)
    # and replaces round 1's rather than piling up beside it.
    _add(config.out / "data", make_episode, [5], seed0=20)
    trunk_calls.clear()
    _fine_tune(config, checkpoint, 2, progress=False)
    assert sum(trunk_calls) == _frames(config.out / "data") == 19
    bins = sorted((config.out / "data" / "cache").glob(f"{CAM}.*.bin"))
    assert len(bins) == 1 and json.loads(bins[0].with_suffix(".json").read_text())["offsets"][-1] == 19


def test_the_cached_loss_is_the_uncached_one_up_to_float16_rounding(tmp_path, make_episode, fake_imagenet, trunk_calls):
    cached = _run(tmp_path / "a", make_episode, feature_cache=True, steps=1)
    plain = replace(cached, out=tmp_path / "b", feature_cache=False)
    shutil.copytree(cached.out / "data", plain.out / "data")
    losses = []
    for config in (cached, plain):
        trunk_calls.clear()
        _fine_tune(config, cached.checkpoint, 1, progress=False)
        losses.append(json.loads((config.out / "round_1" / "train" / "metrics.jsonl").read_text().splitlines()[-1])["loss"])
    assert trunk_calls == [4]  # the plain path runs the trunk on its one batch of 4 (the check above can fail)
    # measured: the float16 rounding moves this loss by ~1e-7 relative; the maps of wrong frames (every window
    # served its episode's first frame's) moved it by ~2e-4, so this tolerance tells the two apart
    assert losses[0] == pytest.approx(losses[1], rel=1e-5), losses


def test_cached_windows_keep_the_label_and_action_columns(tmp_path, make_episode, fake_imagenet):
    """dagger (expert.action), interventions (operator frames only) and rl-sim (an episode subset) on cached maps:
    the same samples as on images, with the maps of the very frames shown."""
    _add(tmp_path / "d", make_episode, [7, 9])
    reader = DatasetReader(tmp_path / "d")
    encoder = cache_encoder(EFFNET, 1, "test")
    caches = open_camera_caches(reader, EFFNET, encoder)
    for options in (dict(action_key=EXPERT_ACTION), dict(label_key=INTERVENTION), dict(episodes=[1], action_key=EXPERT_ACTION)):
        common = dict(obs_history=2, action_horizon=4, image_keys=[CAM], **options)
        images, maps = WindowDataset(reader, **common), WindowDataset(reader, feature_caches=caches, **common)
        assert len(maps) == len(images) > 0
        for i in range(len(maps)):
            a, b = images[i], maps[i]
            assert CAM not in b and (a[keys.EPISODE_INDEX], a[keys.FRAME_INDEX]) == (b[keys.EPISODE_INDEX], b[keys.FRAME_INDEX])
            for k in (keys.ACTION, keys.ACTION + keys.PAD_SUFFIX, keys.STATE):
                assert torch.equal(a[k], b[k]), (options, i, k)
            frames = (a[CAM] * 255).round().to(torch.uint8).numpy()
            np.testing.assert_allclose(b[keys.cached_key(CAM)].float().numpy(), encoder(frames), rtol=1e-2, atol=1e-2)
    labels = WindowDataset(reader, action_horizon=4, image_keys=[CAM], action_key=EXPERT_ACTION, feature_caches=caches)
    first = labels[0][keys.ACTION].numpy()
    assert np.allclose(first, reader.read_columns(0)[EXPERT_ACTION][:4]) and not np.allclose(first, reader.read_columns(0)[keys.ACTION][:4])


def test_a_resumed_run_must_keep_its_cache_settings(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "demos").mkdir()
    off = ImproveConfig(checkpoint=tmp_path / "ckpt", demos=tmp_path / "demos", tasks=("reach-v3",), out=tmp_path / "out")
    (tmp_path / "out").mkdir()
    _check_same_run(off)
    with pytest.raises(ConfigError, match=r"other settings \(feature_cache\)"):
        _check_same_run(replace(off, feature_cache=True))
    # a run started before these options existed resumes as feature_cache=False, feature_cache_shifts=1
    path = tmp_path / "out" / "improve_config.json"
    was = json.loads(path.read_text())
    assert was["feature_cache"] is False and was["feature_cache_shifts"] == 1
    path.write_text(json.dumps({k: v for k, v in was.items() if not k.startswith("feature_cache")}))
    _check_same_run(off)
    with pytest.raises(ConfigError, match=r"other settings \(feature_cache\)"):
        _check_same_run(replace(off, feature_cache=True))
    path.unlink()
    on = replace(off, feature_cache=True)
    _check_same_run(on)
    with pytest.raises(ConfigError, match=r"other settings \(feature_cache_shifts\)"):
        _check_same_run(replace(on, feature_cache_shifts=3))


def test_the_cache_options_are_checked_before_anything_is_gathered(tmp_path, make_episode, fake_imagenet):
    from typer.testing import CliRunner

    import vlastack.cli  # noqa: F401  (registers every command)
    from vlastack.cli.app import app

    conv = _run(tmp_path, make_episode, policy_cfg=PRESETS.get("l1-debug").policy)  # l1-debug trains its conv trunk
    base = ["improve", "--checkpoint", str(conv.checkpoint), "--demos", str(conv.demos), "--tasks", "reach-v3", "--no-progress"]
    refused = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "cli"), "--feature-cache"])
    assert refused.exit_code != 0 and str(refused.exception).startswith("improve.feature_cache: preset 'l1-debug'")
    assert "has no frozen image trunk" in str(refused.exception)
    assert not (tmp_path / "cli").exists()  # nothing started: no settings written, nothing gathered
    with pytest.raises(ConfigError, match="feature_cache_shifts=3 needs feature_cache=true"):
        improve(replace(conv, feature_cache_shifts=3), progress=False)
    # exact shifts need a shift augmentation to take them from: the error says which options led there
    effnet = untrained_policy(EFFNET).save_pretrained(tmp_path / "effnet")
    with pytest.raises(ConfigError, match=r"improve.feature_cache with feature_cache_shifts=3: .*augment_shift=0"):
        improve(replace(conv, checkpoint=effnet, feature_cache=True, feature_cache_shifts=3), progress=False)
    for bad in (2, 0, True):
        with pytest.raises(ConfigError, match="feature_cache_shifts must be an odd integer"):
            replace(conv, feature_cache_shifts=bad)
    with pytest.raises(ConfigError, match="feature_cache must be true or false"):
        replace(conv, feature_cache="yes")
    assert not (conv.out / "improve_config.json").exists()
