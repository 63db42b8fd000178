"""The `dthub` command (Typer)."""

from __future__ import annotations

import typer

app = typer.Typer(help="dthub: digital transport hub (数字交通中枢)", no_args_is_help=True)
