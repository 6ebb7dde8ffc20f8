"""The ``crimemap`` command line (Typer). Commands are thin: parse, call data/ boundaries/ geo/, print.

Every failure is one line on stderr and a non-zero exit (2 for unusable input); ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import sys
import traceback

import typer

from api.console import err
from geo.errors import InputError

app = typer.Typer(
    name="crimemap",
    help="Crime hot-spot maps, parish counts and county-lines views from police.uk data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

STORE_HELP = "Embedded store directory or postgresql:// URL (default: $CRIMEMAP_STORE, then the user data dir)."
StoreOption = typer.Option(None, "--store", help=STORE_HELP, envvar="CRIMEMAP_STORE")

_DEBUG = {"on": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on failure.")) -> None:
    _DEBUG["on"] = debug


# Command groups live in their own modules and register themselves on import.
from api import cli_aggregate, cli_boundaries, cli_hotspots, cli_ingest, cli_lines, cli_serve  # noqa: E402,F401

try:  # download clients (issue 8) are optional until they land
    from api import cli_download  # noqa: F401
except ImportError:  # pragma: no cover
    pass

from api import cli_scale  # noqa: E402,F401 - national scale on Dask (issue 8; dask itself is imported when run)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: run the app and turn errors into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rc = app(args=argv, standalone_mode=False)
    except SystemExit:
        raise
    except InputError as e:
        if debug:
            traceback.print_exc()
        err.print(f"crimemap: error: {e}", markup=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("crimemap: interrupted; nothing was changed by the step that was running", markup=False)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code if e.exit_code else 2)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        if debug:
            traceback.print_exc()
        err.print(f"crimemap: internal error: {type(e).__name__}: {str(e)[:300]} (run with --debug for details)",
                  markup=False)
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)
