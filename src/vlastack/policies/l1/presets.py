"""Presets of the L1 chunk-regression policy.

l1        FiLM conv keypoints + MLP, L1 chunk loss, frozen MiniLM instruction vector, 96 px (the CPU-fast baseline)
l1-future l1 plus the training-only loss that predicts its own image features 8 frames ahead (future_weight 0.5)
l1-debug  the same at 32 px with the word-hash text encoder: trains in seconds (tests)
l1-effnet l1 on the frozen ImageNet EfficientNet-Lite0 trunk (output stride 16) + 1x1 conv, FiLM, keypoints and a 4x4 grid
"""

from __future__ import annotations

from vlastack.policies.l1.config import L1Config
from vlastack.policies.presets import Preset, add_preset
from vlastack.train_config import TrainConfig

L1 = add_preset(
    Preset(
        "l1",
        L1Config(name="l1", execute_steps=8),
        TrainConfig(steps=20_000, batch_size=64, lr=1e-3, warmup_steps=500, save_every=1_000, weight_decay=1e-4),
        "ACT-style L1 chunk regression on spatial-softmax keypoints of a FiLM conv net (deterministic, fast on a CPU)",
    )
)
L1_FUTURE = add_preset(
    Preset(
        "l1-future",
        # 0.5: in a 200-step smoke run on runs/mt10_50b the future loss (MSE on standardised features) fell
        # 0.79 -> 0.20 while the L1 action loss fell 0.38 -> 0.22, so at half weight the auxiliary term
        # stays at or below the action loss (about half of it after the first 100 steps) and cannot drown it.
        L1Config(name="l1-future", execute_steps=8, future_weight=0.5, future_offset=8),
        L1.train,
        "l1 plus an auxiliary loss predicting its own image features 8 frames ahead (stop-gradient target; PAD-style)",
    )
)
L1_EFFNET = add_preset(
    Preset(
        "l1-effnet",
        # Stride 16 (112 channels, 6x6 at 96 px) and a 4x4 grid: in benchmarks/probe_positions.py --pretrained effnet_lite0
        # on MT10 (runs/mt10_50b, held-out episodes, MLP readout, task one-hot beside) the frozen stride-16 map placed
        # object and goal better than the stride-8 and stride-32 ones, a 4x4 grid of it better than its channel means or
        # its spatial-softmax keypoints (object 1.4 / 2.0 / 2.0 cm, goal 2.1 / 2.5 / 2.9 cm), and 128 px gained nothing
        # over 96 px. The trained l1's own features: object 2.4 cm, goal 1.9 cm (runs/effnet_notes.md).
        L1Config(name="l1-effnet", execute_steps=8, vision="effnet_lite0", vision_stride=16, vision_width=64, vision_grid=4),
        L1.train,
        "l1 on a frozen ImageNet EfficientNet-Lite0 trunk (stride 16) + trainable 1x1 conv, FiLM, keypoints and a 4x4 grid",
    )
)
L1_DEBUG = add_preset(
    Preset(
        "l1-debug",
        L1Config(
            name="l1-debug",
            image_size=(32, 32),
            channels=(8, 8),
            keypoints=4,
            text_encoder="hash",
            text_options={"buckets": 256, "dim": 16},
            task_dim=8,
            hidden=32,
            layers=1,
            horizon=4,
            augment_shift=2,
        ),
        TrainConfig(steps=8, batch_size=4, lr=1e-3, warmup_steps=2, save_every=4, log_every=1, ema_decay=0.9),
        "tiny L1 policy that trains in seconds; for tests",
    )
)
