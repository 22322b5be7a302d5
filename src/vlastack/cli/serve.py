"""``vlastack serve``: serve a checkpoint's action chunks over websockets (openpi's wire protocol).

Examples::

    vlastack serve --checkpoint runs/debug                       # latest checkpoint of a run, on 127.0.0.1:8000
    vlastack serve --checkpoint runs/x/checkpoints/step_00020000 --host 0.0.0.0 --token "$SECRET"
    vlastack serve --checkpoint runs/x --image-size 128 --safety none

Clients: ``vlastack.serving.client.PolicyClient`` or openpi's ``WebsocketClientPolicy``. The keys a
client must send are printed at start and sent in the metadata on connect.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from vlastack.cli.app import app


@app.command()
def serve(
    checkpoint: Annotated[Path, typer.Option(help="Policy directory, or a training run directory (its latest checkpoint).")],
    host: Annotated[str, typer.Option(help="Interface to bind; loopback by default. Use 0.0.0.0 only with --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(help="Shared secret clients must send ('Authorization: Api-Key <token>'); default: $VLASTACK_SERVE_TOKEN, else none."),
    ] = None,
    safety: Annotated[
        str,
        typer.Option(
            help="Safety spec applied to every chunk: 'embodiment' (the spec of the robots the checkpoint was trained on; "
            "metaworld_sawyer for checkpoints that do not say), a preset name (two-arm ones too, e.g. "
            "robosuite_twoarmlift_panda: checkpoints do not record two-arm robots yet, so name it), a JSON file, or 'none'."
        ),
    ] = "embodiment",
    image_size: Annotated[int | None, typer.Option(help="Square image size clients send (default: the policy's own).")] = None,
    max_message_mb: Annotated[float, typer.Option(help="Largest accepted message in MiB.")] = 8.0,
    workers: Annotated[int, typer.Option(help="Inference threads (clients served at the same time).")] = 4,
    threads: Annotated[int | None, typer.Option(help="torch intra-op threads (default: torch's).")] = None,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda, cuda:1 ...")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of each connection's noise generator (flow policies).")] = 0,
    verbose: Annotated[bool, typer.Option(help="Log every connection at INFO level.")] = True,
    idle_timeout_s: Annotated[float, typer.Option(help="Close a connection that sends nothing for this many seconds (0: never).")] = 300.0,
    session_timeout_s: Annotated[float, typer.Option(help="Close any connection this many seconds after it opened (0: never).")] = 0.0,
    max_clients_per_token: Annotated[int, typer.Option(help="Connections one token may hold at once.")] = 16,
) -> None:
    """Load a checkpoint once and serve action chunks to many clients until interrupted."""
    import logging

    from vlastack.errors import ConfigError
    from vlastack.serving.checkpoint import CheckpointRunner
    from vlastack.serving.server import PolicyServer, ServerConfig

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)
    token = token or os.environ.get("VLASTACK_SERVE_TOKEN") or None
    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        typer.echo(f"warning: serving on {host} without a token: anyone who can reach the port can drive the policy", err=True)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    runner = CheckpointRunner(checkpoint, image_size=(image_size, image_size) if image_size else None, device=device, seed=seed)
    if safety == "embodiment":
        from vlastack.embodiments import serving_safety_spec

        safety = serving_safety_spec(runner.policy.embodiments)
    try:
        config = ServerConfig(
            host=host,
            port=port,
            token=token,
            max_message_bytes=int(max_message_mb * 2**20),
            workers=workers,
            safety=None if safety.lower() == "none" else safety,
            idle_timeout_s=idle_timeout_s or None,
            session_timeout_s=session_timeout_s or None,
            max_clients_per_token=max_clients_per_token,
        )
    except ValueError as err:
        raise ConfigError(str(err)) from err
    try:
        server = PolicyServer(runner, config)
    except ConfigError:
        raise
    except ValueError as err:  # the safety spec does not fit this policy
        raise ConfigError(f"cannot serve {runner.directory}: {err}; pass --safety with a spec for this robot, or --safety none") from err
    typer.echo(f"policy {runner.config.name!r} ({runner.policy.describe()}) from {runner.directory}")
    if runner.policy.embodiments:
        typer.echo(f"trained on embodiments: {', '.join(runner.policy.embodiments)}")
    typer.echo("observation keys: " + ", ".join(f"{a.key} {a.describe()}" for a in runner.spec.arrays) + ", prompt str")
    typer.echo(
        f"actions: float32 {list(runner.action_spec.shape)}; safety: {config.safety or 'off'}; token: {'required' if token else 'off'}"
    )
    server.run()
