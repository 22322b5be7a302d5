"""``vlastack tokenizer fit|report``: fit an action tokenizer on a dataset, and measure what it costs.

Examples::

    vlastack tokenizer fit --dataset data/mt10 --kind fast --horizon 16 --out runs/tok_fast
    vlastack tokenizer report --tokenizer runs/tok_fast --dataset data/mt10 --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from vlastack.cli.app import app

tokenizer_app = typer.Typer(
    help="Action tokenizers: fit binning or FAST on a dataset's actions, report tokens per chunk, error and speed.",
    no_args_is_help=True,
)
app.add_typer(tokenizer_app, name="tokenizer")

DatasetOpt = Annotated[Path, typer.Option("--dataset", help="Dataset directory (LeRobot v3 layout written by vlastack).")]
StrideOpt = Annotated[int, typer.Option(help="Start a chunk every STRIDE steps of each episode (1: every step).")]
PadOpt = Annotated[str, typer.Option(help="Windows past an episode's end: 'repeat' its last action or 'drop' the window.")]
MaxChunksOpt = Annotated[int, typer.Option(help="Use at most this many chunks, evenly spaced (0: all).")]


def read_episode_actions(dataset: Path) -> list[Any]:
    """One float32 [steps, action_dim] array per episode of ``dataset``, environment units."""
    from vlastack.errors import DatasetError

    try:
        from vlastack.episodes.reader import DatasetReader
    except ImportError as err:
        raise DatasetError(f"cannot read {dataset}: the dataset reader (vlastack.episodes.reader) is unavailable ({err})") from err
    return DatasetReader(dataset).episode_actions()


def _dataset_chunks(dataset: Path, horizon: int, stride: int, pad: str, max_chunks: int) -> tuple[Any, int]:
    """Chunks [N, horizon, action_dim] cut from every episode of ``dataset``, and the episode count."""
    from vlastack.errors import DatasetError
    from vlastack.tokenizers.chunks import make_chunks, subsample

    if not dataset.exists():
        raise DatasetError(f"dataset directory {dataset} does not exist; pass the --out directory of 'vlastack collect'")
    episodes = read_episode_actions(dataset)
    return subsample(make_chunks(episodes, horizon, stride=stride, pad=pad), max_chunks), len(episodes)  # type: ignore[arg-type]


@tokenizer_app.command()
def fit(
    dataset: DatasetOpt,
    kind: Annotated[str, typer.Option(help="Tokenizer kind: 'bins' (per-step binning) or 'fast' (DCT + BPE).")],
    horizon: Annotated[int, typer.Option(help="Steps per action chunk; must match the policy's action horizon.")],
    out: Annotated[Path, typer.Option(help="Directory to write tokenizer.json (and FAST's bpe_tokenizer.json) into.")],
    scale: Annotated[float, typer.Option(help="FAST: DCT coefficients are multiplied by this before rounding.")] = 10.0,
    vocab_size: Annotated[int, typer.Option(help="FAST: BPE vocabulary size (token ids 0 .. vocab_size-1).")] = 1024,
    bins: Annotated[int, typer.Option(help="bins: bins per action dimension (token ids 0 .. bins-1).")] = 256,
    stride: StrideOpt = 1,
    pad: PadOpt = "repeat",
    max_chunks: MaxChunksOpt = 0,
) -> None:
    """Fit an action tokenizer on a dataset's action chunks and save it as JSON."""
    from vlastack.tokenizers import make_tokenizer

    params: dict[str, Any] = {"fast": {"scale": scale, "vocab_size": vocab_size}, "bins": {"n_bins": bins}}.get(kind, {})
    tokenizer = make_tokenizer(kind, **params)  # an unknown kind raises a ConfigError listing the valid ones
    chunks, n_episodes = _dataset_chunks(dataset, horizon, stride, pad, max_chunks)
    tokenizer.fit(chunks)
    tokenizer.save(out)
    typer.echo(f"fitted {tokenizer!r} on {len(chunks)} chunks from {n_episodes} episodes; {tokenizer.vocab_size} token ids; saved to {out}")


@tokenizer_app.command()
def report(
    tokenizer: Annotated[Path, typer.Option("--tokenizer", help="Directory written by 'vlastack tokenizer fit'.")],
    dataset: DatasetOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    stride: StrideOpt = 1,
    pad: PadOpt = "repeat",
    max_chunks: MaxChunksOpt = 0,
    timing_chunks: Annotated[int, typer.Option(help="Chunks timed one call at a time for the speed figures.")] = 256,
) -> None:
    """Tokens per chunk, compression against binning, reconstruction error and speed on a dataset."""
    from vlastack.tokenizers import load_tokenizer
    from vlastack.tokenizers.report import measure

    tok = load_tokenizer(tokenizer)
    chunks, n_episodes = _dataset_chunks(dataset, tok.horizon, stride, pad, max_chunks)
    result = measure(tok, chunks, timing_chunks=timing_chunks).to_dict()
    result["dataset"] = str(dataset)
    result["n_episodes"] = n_episodes
    if as_json:
        typer.echo(json.dumps(result))
        return
    _print_table(result)


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['kind']} tokenizer on {result['dataset']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, list):
            text = ", ".join(f"{v:.4g}" for v in value)
        else:
            text = str(value)
        table.add_row(key, text)
    Console().print(table)
