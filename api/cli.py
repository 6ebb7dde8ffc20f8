"""The ``crimemap`` command line (Typer). Commands are thin: parse, call data/ boundaries/ geo/, print.

Every failure is one line on stderr and a non-zero exit (2 for unusable input); ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import signal
import sys
import traceback

import typer

from api.console import SIGNALLED, Terminated, err
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


def _on_signal(signum, frame) -> None:
    """SIGINT and SIGTERM unwind the command (clean-ups run); typer turns the interrupt into exit code 130 and an
    exception raised in an at-fork hook is lost, so the signal is also noted (:data:`api.console.SIGNALLED`) for
    progress steps and :func:`main` to act on."""
    SIGNALLED.append(signum)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _unraisable(u) -> None:
    """An interrupt lost inside an at-fork hook or a finaliser is acted on through SIGNALLED: print no traceback."""
    if u.exc_type is not None and issubclass(u.exc_type, KeyboardInterrupt):
        return
    sys.__unraisablehook__(u)


def _interrupted(e: KeyboardInterrupt | None = None) -> None:
    err.print("crimemap: interrupted; nothing was changed by the step that was running", markup=False)
    term = isinstance(e, Terminated) or (e is None and signal.SIGTERM in SIGNALLED)
    sys.exit(143 if term else 130)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: run the app and turn errors into one line and an exit code."""
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]  # a flag of this wrapper, not of the commands
    # SIGTERM (a service manager stopping us, `kill`) unwinds like Ctrl-C, so clean-ups run (e.g. the hand-over
    # files of ingest's workers); `serve` puts uvicorn's own handlers in place of these
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sys.unraisablehook = _unraisable
    try:
        rc = app(args=args, standalone_mode=False)
    except SystemExit:
        raise
    except InputError as e:
        if debug:
            traceback.print_exc()
        err.print(f"crimemap: error: {e}", markup=False)
        sys.exit(2)
    except KeyboardInterrupt as e:
        _interrupted(e)
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        if SIGNALLED:  # whatever broke after a signal (e.g. a worker pool whose worker it reached) was the signal
            _interrupted()
        # typer's own copy of click (typer >= 0.26) or click itself: usage errors show their usage line
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code if e.exit_code else 2)
        if type(e).__name__ == "Abort":  # click turns Ctrl-C (and our SIGTERM) into Abort
            cause = e.__cause__ or e.__context__
            if isinstance(cause, KeyboardInterrupt):
                _interrupted(cause)
            sys.exit(1)
        if debug:
            traceback.print_exc()
        err.print(f"crimemap: internal error: {type(e).__name__}: {str(e)[:300]} (run with --debug for details)",
                  markup=False)
        sys.exit(1)
    if SIGNALLED:  # typer caught the interrupt (exit code 130)
        _interrupted()
    sys.exit(rc if isinstance(rc, int) else 0)
