"""Registries that work: encoders chosen by name and built with their own options; unknown names and
options are named; an encoder registered from outside the package trains through the real loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vlastack.errors import ConfigError
from vlastack.policies import PRESETS, fake_batch, load_policy, make_policy, policy_class
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.components.vision import VISION_ENCODERS
from vlastack.policies.untrained import fitted_inputs


class _StripeEncoder(nn.Module):
    """A user's encoder: one token per image row band, from a 1x1 conv."""

    def __init__(self, in_channels: int, d_model: int, bands: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, d_model, 1)
        self.bands = bands
        self.num_tokens = bands

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.conv(x)  # [N, d, H, W]
        return torch.stack([band.mean(dim=(2, 3)) for band in f.chunk(self.bands, dim=2)], dim=1)


@pytest.fixture(scope="module")
def stripes():
    if "test-stripes" not in VISION_ENCODERS:
        VISION_ENCODERS.register("test-stripes")(lambda in_channels, d_model, bands=2: _StripeEncoder(in_channels, d_model, bands))
    return "test-stripes"


def test_an_encoder_registered_outside_the_package_trains_and_reloads(stripes, tmp_path, cfg_for):
    from vlastack.training.loop import train

    cfg = cfg_for("debug", vision_encoder=stripes, vision_options={"bands": 4})
    samples = fake_samples(cfg, 8, seed=0)
    stats, inputs = fitted_inputs(cfg, samples)
    train_cfg = PRESETS.get("debug").train
    from dataclasses import replace

    result = train(
        cfg,
        replace(train_cfg, steps=1, save_every=1, batch_size=4),
        samples,
        stack_samples,
        tmp_path / "run",
        stats=stats,
        policy_inputs=inputs,
        progress=False,
    )
    assert result.step == 1 and result.checkpoint is not None
    policy = load_policy(result.checkpoint)
    assert isinstance(policy.vision, _StripeEncoder) and policy.vision.num_tokens == 4
    assert policy.sample_actions(fake_batch(cfg, 2, with_action=False)).actions.shape == (2, cfg.horizon, cfg.action_dim)


def test_unknown_encoder_names_and_options_are_named(stripes, cfg_for):
    with pytest.raises(ConfigError, match=r"unknown vision encoder 'cnnn'. Did you mean 'cnn'\?.*test-stripes"):
        make_policy(cfg_for("flow", vision_encoder="cnnn"))
    with pytest.raises(
        ConfigError, match=r"vision_options \['width'\] are not settings of the vision encoder 'cnn'; it takes: channels, grid, patch"
    ):
        make_policy(cfg_for("flow", vision_options={"width": 3}))
    with pytest.raises(ConfigError, match=r"unknown text encoder 'bert'"):
        make_policy(cfg_for("l1-debug", text_encoder="bert"))
    with pytest.raises(ConfigError, match=r"text_options \['size'\] are not settings of the text encoder 'hash'"):
        make_policy(cfg_for("l1-debug", text_options={"size": 3}))


def test_a_policy_class_is_found_from_its_config_or_name():
    for name in PRESETS.names():
        cfg = PRESETS.get(name).policy
        cls = policy_class(cfg)
        assert cls.config_class is type(cfg) and policy_class(cls.policy_name) is cls
    with pytest.raises(ConfigError, match="unknown policy 'vlaa'. Did you mean 'vla'"):
        policy_class("vlaa")


def test_old_checkpoint_configs_still_load(tmp_path, cfg_for):
    """Checkpoints written before per-encoder option dicts (vision_channels, vision_patch, vision_grid,
    vision_path, hash_buckets, hash_dim as fields) load, with the legacy fields read into the dicts."""
    import json

    from vlastack.policies.untrained import untrained_policy

    cfg = cfg_for("debug", vision_options={"channels": [8, 16], "patch": 4, "grid": 2}, text_options={"buckets": 256, "dim": 16})
    untrained_policy(cfg).save_pretrained(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "config.json").read_text())
    old = {k: v for k, v in meta["config"].items() if k not in ("vision_options", "text_options", "execute_steps")}
    old.update(vision_channels=[8, 16], vision_patch=4, vision_grid=2, vision_path=None, hash_buckets=256, hash_dim=16)
    (tmp_path / "p" / "config.json").write_text(json.dumps({**meta, "config": old}))
    policy = load_policy(tmp_path / "p")
    assert policy.config.vision_options == {"channels": [8, 16], "patch": 4, "grid": 2}  # as JSON holds them
    assert policy.config.text_options == {"buckets": 256, "dim": 16} and policy.vision.num_tokens == 4
