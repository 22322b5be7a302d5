"""Presets of the VLA family.

    debug    tiny hybrid (binning tokens + flow expert), word-hash text, 32 px: trains in seconds (tests)
    bins     autoregressive 256-bin tokens                       (OpenVLA-style)
    fast     autoregressive FAST tokens                          (pi0-FAST-style)
    flow     flow-matching expert trained end to end             (pi0-style)
    hybrid   FAST tokens on the backbone + insulated flow expert (pi0.5 knowledge insulation); acts with the expert
    bins-effnet    bins on the frozen ImageNet EfficientNet-Lite0 trunk (stride 16, pooled to 4x4 = 16 tokens) + 1x1 conv
    fast-effnet    fast on that frozen trunk
    flow-effnet    flow on that frozen trunk
    hybrid-effnet  hybrid on that frozen trunk

The four variants share one architecture (96 px corner2 camera -> 16 image tokens, 4-d state and
action, horizon 16, a 4-block 192-wide backbone with MLP ratio 3, frozen MiniLM sentence embeddings;
the expert is 2 blocks of width 96 integrated with 5 Euler steps) and differ only in their heads.
Sizes were chosen for the latency bar: under 10 ms per chunk for the hybrid on 2 CPU cores (see
benchmarks/policy_latency.py).

The ``-effnet`` presets are the four variants with ``vision_encoder="effnet_lite0"`` and nothing else changed (the
same TrainConfig): the trunk of ``l1-effnet``, so the five families meet on one table. They can train on the
trunk's cached maps (``--set train.feature_cache=true``, and ``--set train.feature_cache_shifts=3`` for exact shifts),
the cache l1-effnet builds at 96 px (same trunk, stride and weights: the same files).
"""

from __future__ import annotations

from dataclasses import replace

from vlastack.policies.presets import Preset, add_preset
from vlastack.policies.vla.config import VLAConfig
from vlastack.train_config import TrainConfig

_TRAIN = TrainConfig(steps=20_000, batch_size=64, lr=3e-4, warmup_steps=500, save_every=1_000)

DEBUG = add_preset(
    Preset(
        "debug",
        VLAConfig(
            name="debug",
            variant="hybrid",
            tokenizer="bins",
            image_size=(32, 32),
            vision_options={"channels": (8, 16), "patch": 4, "grid": 4},
            augment_shift=2,
            text_encoder="hash",
            text_options={"buckets": 256, "dim": 16},
            text_tokens=1,
            d_model=32,
            depth=2,
            heads=2,
            mlp_ratio=2,
            expert_width=32,
            expert_depth=2,
            horizon=4,
            num_inference_steps=3,
            max_action_tokens=24,
        ),
        TrainConfig(steps=8, batch_size=4, lr=1e-3, warmup_steps=2, save_every=4, log_every=1, ema_decay=0.9, tokenizer_max_chunks=2_000),
        "tiny hybrid (binning tokens + flow expert) that trains in seconds; for tests",
    )
)
# Shared by the four variants. mlp_ratio 3 and 5 Euler steps (openpi uses 10) are what keep the hybrid
# under 10 ms per chunk on 2 CPU cores; 10 steps cost about 3 ms more (sample_actions(num_steps=10)).
_BASE = VLAConfig(name="base", mlp_ratio=3, num_inference_steps=5)
BINS = add_preset(
    Preset(
        "bins",
        replace(_BASE, name="bins", variant="bins", max_action_tokens=64),
        _TRAIN,
        "autoregressive 256-bin action tokens on the backbone (OpenVLA-style)",
    )
)
FAST = add_preset(
    Preset(
        "fast",
        replace(_BASE, name="fast", variant="fast"),
        _TRAIN,
        "autoregressive FAST (DCT + BPE) action tokens on the backbone (pi0-FAST-style)",
    )
)
FLOW = add_preset(
    Preset(
        "flow",
        replace(_BASE, name="flow", variant="flow"),
        _TRAIN,
        "flow-matching action expert trained end to end with the backbone (pi0-style)",
    )
)
HYBRID = add_preset(
    Preset(
        "hybrid",
        replace(_BASE, name="hybrid", variant="hybrid"),
        _TRAIN,
        "FAST tokens on the backbone + flow expert behind a stop-gradient; acts with the expert (pi0.5-KI-style)",
    )
)


def _on_effnet(preset: Preset, description: str) -> Preset:
    """``preset`` with the frozen EfficientNet-Lite0 trunk as its vision encoder, everything else (and its TrainConfig) kept."""
    name = f"{preset.name}-effnet"
    # stride 16 and a 4x4 token grid: the encoder's defaults, spelled out (why: components/vision.py, _build_effnet_lite0)
    policy = replace(preset.policy, name=name, vision_encoder="effnet_lite0", vision_options={"stride": 16, "grid": 4})
    return add_preset(Preset(name, policy, preset.train, description))


BINS_EFFNET = _on_effnet(BINS, "bins on a frozen ImageNet EfficientNet-Lite0 trunk (stride 16, 4x4 tokens) + trainable 1x1 conv")
FAST_EFFNET = _on_effnet(FAST, "fast on a frozen ImageNet EfficientNet-Lite0 trunk (stride 16, 4x4 tokens) + trainable 1x1 conv")
FLOW_EFFNET = _on_effnet(FLOW, "flow on a frozen ImageNet EfficientNet-Lite0 trunk (stride 16, 4x4 tokens) + trainable 1x1 conv")
HYBRID_EFFNET = _on_effnet(HYBRID, "hybrid on a frozen ImageNet EfficientNet-Lite0 trunk (stride 16, 4x4 tokens) + trainable 1x1 conv")
