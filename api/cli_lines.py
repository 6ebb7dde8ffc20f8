"""``crimemap lines load|summary|export`` (issue 6)."""

import typer

from api.cli import app

lines = typer.Typer(help="County lines: load records, summarise the network, export the graph.", no_args_is_help=True)
app.add_typer(lines, name="lines")
