"""``crimemap hotspots run|evaluate`` (issue 5)."""

import typer

from api.cli import app

hotspots = typer.Typer(help="Hot spots: Gi*, KDE, emerging hot spots and their predictive evaluation.",
                       no_args_is_help=True)
app.add_typer(hotspots, name="hotspots")
