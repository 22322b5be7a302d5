"""Action tokenizers by name: build one from its kind, load one from a directory.

Kinds register themselves with ``@TOKENIZERS.register(name)``; importing :mod:`vlastack.tokenizers`
imports every kind, so ``load_tokenizer`` finds them all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlastack.errors import CheckpointError
from vlastack.registry import Registry

if TYPE_CHECKING:
    from vlastack.tokenizers.base import ActionTokenizer

#: Every action tokenizer class by kind ("bins", "fast"); ``get`` of an unknown kind lists the valid ones.
TOKENIZERS: Registry[type[ActionTokenizer]] = Registry("action tokenizer")


def make_tokenizer(kind: str, **params: Any) -> ActionTokenizer:
    """An unfitted tokenizer of ``kind``, built with ``params`` (its constructor arguments)."""
    return TOKENIZERS.get(kind)(**params)


def load_tokenizer(directory: str | os.PathLike[str]) -> ActionTokenizer:
    """The tokenizer saved in ``directory`` by ``ActionTokenizer.save``, whatever its kind."""
    from vlastack.tokenizers.base import FORMAT_VERSION, KIND, META_FILE, VERSION

    path = Path(directory)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path} does not exist; pass a directory written by 'vlastack tokenizer fit' or ActionTokenizer.save")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{meta_path} is not valid JSON ({err}); save the tokenizer again") from err
    if not isinstance(meta, dict) or KIND not in meta:
        raise CheckpointError(f"{meta_path} has no {KIND!r} field; it was not written by ActionTokenizer.save")
    if meta.get(VERSION) != FORMAT_VERSION:
        raise CheckpointError(f"{meta_path} has format_version {meta.get(VERSION)!r}; this vlastack reads {FORMAT_VERSION}")
    return TOKENIZERS.get(str(meta[KIND])).from_saved(meta, path)
