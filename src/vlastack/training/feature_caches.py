"""The feature caches a training run reads in place of its policy's frozen trunk (``TrainConfig.feature_cache``).

One place for what ``vlastack train`` and ``vlastack improve`` both do with them: ask the policy class for its
frozen trunk as a cache encoder (the policy contract's ``feature_cache_encoder``), open one cache per camera the
policy reads for each dataset (data/feature_cache.py builds it first where missing or stale), and describe them
for run.json. Kept out of the CLI so the two commands cannot drift apart in what a cached run means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlastack.errors import ConfigError


def cache_encoder(cfg: Any, shifts: int, field: str) -> Any:
    """``cfg``'s frozen image trunk as a feature-cache encoder caching ``shifts`` pixel shifts per axis.
    ``field`` names the setting that asked for the cache (e.g. ``train.feature_cache``) in the error
    raised when the policy has no frozen trunk, so the user knows which option to turn off."""
    from vlastack.policies.registry import policy_class

    encoder = policy_class(cfg).feature_cache_encoder(cfg, shifts)
    if encoder is None:
        raise ConfigError(f"{field}: {cfg.label} has no frozen image trunk whose maps could be cached")
    return encoder


def open_camera_caches(reader: Any, cfg: Any, encoder: Any, progress: bool = False) -> dict[str, Any]:
    """Image key -> the encoder's maps of that camera in ``reader``'s dataset, for every camera of ``cfg``
    (what ``WindowDataset(feature_caches=...)`` takes)."""
    from vlastack import keys
    from vlastack.data.feature_cache import open_feature_cache

    return {keys.image_key(c): open_feature_cache(reader, keys.image_key(c), encoder, progress=progress) for c in cfg.cameras}


def cache_run_info(encoder: Any, *caches: Mapping[str, Any]) -> dict[str, Any]:
    """run.json's ``feature_cache`` entry: the encoder's identity and the cache files read (of every dataset)."""
    return {"identity": encoder.identity, "files": [str(f.path) for per_dataset in caches for f in per_dataset.values()]}
