"""The root command. Each sub-module of vlastack.cli adds its commands to ``app``.

Command modules import heavy libraries (torch, mujoco) inside the command bodies, so that
``vlastack --help`` stays fast.
"""

import typer

app = typer.Typer(
    name="vlastack",
    help="Vision-language-action robot control: collect, inspect, train, evaluate, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
