"""`python -m dthub` runs the command line."""

from dthub.cli import app

app()
