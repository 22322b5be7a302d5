"""``vlastack console``: a local web page over a live Meta-World session, with the operator in the loop.

Examples::

    vlastack console                                   # the shipped demo policy on drawer-open-v3, http://127.0.0.1:8765/?token=...
    vlastack console --experts --task lh-drawer-open-close
    vlastack console --checkpoint runs/x --task window-close-v3 --objects "drawer, window"
    vlastack console --host 0.0.0.0 --token "$SECRET"  # reachable from other machines: anyone with the token drives it
    vlastack console --record runs/console-takeovers  # every finished episode, with your takeovers, into a dataset

The page shows the cameras, the plan, subtask and reason (from the simulator's privileged state, as the
page says), the safety layer's interventions, a chat box for instructions, answers and corrections, and
a stop button: the next control step sends the hold. "Take over" hands the person the controls (keys
or the pad's buttons; every command still passes the safety layer), "Hand back" returns them to the
policy, which plans afresh. With --record DIR every finished episode is written to a LeRobot dataset at
DIR with per-frame ``intervention`` and ``policy.action`` columns, the data ``vlastack improve``
fine-tunes on (``vlastack dataset info DIR`` shows it). The token comes from --token, else
$VLASTACK_CONSOLE_TOKEN, else a fresh random one; the address printed at start carries it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from vlastack.cli.app import app


@app.command()
def console(
    task: Annotated[str, typer.Option(help="Meta-World task (or long-horizon lh-... task) to run.")] = "drawer-open-v3",
    checkpoint: Annotated[Path | None, typer.Option(help="Policy directory (default: the shipped demo policy).")] = None,
    experts: Annotated[bool, typer.Option("--experts", help="Run the task's scripted expert instead of a policy.")] = False,
    executor: Annotated[str, typer.Option(help="Executor for a policy: sync, ensemble or async.")] = "sync",
    safety: Annotated[str, typer.Option(help="Safety spec: preset name or JSON file (always on).")] = "metaworld_sawyer",
    cameras: Annotated[str, typer.Option(help="Cameras shown, comma-separated.")] = "corner2,gripperPOV",
    image_size: Annotated[int | None, typer.Option(help="With --experts: square image side (default 128).")] = None,
    objects: Annotated[
        str | None, typer.Option(help="Scene objects instructions are grounded in, e.g. 'red button, green button' (default: the task's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Reset seed of the first episode (the next ones count up).")] = 0,
    record: Annotated[
        Path | None, typer.Option(help="Write every finished episode, with your takeovers flagged, to this LeRobot dataset directory.")
    ] = None,
    teleop_speed: Annotated[
        float, typer.Option(help="Size of a direction key's command when you take over, in (0, 1] action units.")
    ] = 0.5,
    steps_per_second: Annotated[float, typer.Option(help="Control steps per second of wall time (0: as fast as possible).")] = 20.0,
    host: Annotated[str, typer.Option(help="Interface to bind; loopback by default.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8765,
    token: Annotated[
        str | None, typer.Option(help="Shared secret the page sends; default: $VLASTACK_CONSOLE_TOKEN, else a fresh random one.")
    ] = None,
) -> None:
    """Serve the operator console for one live session until interrupted (Ctrl-C)."""
    import logging

    from vlastack.console.config import ConsoleConfig, parse_objects
    from vlastack.console.server import LOOPBACK, ConsoleServer, ServerConfig
    from vlastack.console.session import ConsoleSession

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = token or os.environ.get("VLASTACK_CONSOLE_TOKEN") or secrets.token_urlsafe(16)
    config = ConsoleConfig(
        task=task,
        checkpoint=checkpoint,
        experts=experts,
        executor=executor,
        safety_spec=safety,
        cameras=tuple(c.strip() for c in cameras.split(",") if c.strip()),
        image_size=image_size,
        seed=seed,
        objects=parse_objects(objects) if objects is not None else None,
        record=record,
        teleop_speed=teleop_speed,
    )
    server_config = ServerConfig(token=token, host=host, port=port, steps_per_second=steps_per_second)
    if host not in LOOPBACK:
        typer.echo(f"warning: the console listens on {host}: anyone who can reach the port and has the token can drive it", err=True)
    server = ConsoleServer(lambda: ConsoleSession(config), server_config).start()
    if record is not None:
        typer.echo(f"recording every finished episode to {record}")
    typer.echo(f"console for {task} ({'scripted expert' if experts else 'policy'}, safety {safety}); open:\n  {server.url}")
    try:
        server.wait()
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        server.close()
