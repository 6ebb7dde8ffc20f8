"""Terminal output for the CLI: rich consoles on stdout/stderr, progress bars, one-line failures."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


#: Signals received (SIGINT, SIGTERM), noted by the CLI's handler.
SIGNALLED: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM received."""


def check_signals() -> None:
    """Raise the interrupt again if a signal came: the handler's own exception can be lost (one raised inside an
    at-fork hook or a finaliser is only reported as ignored), so long steps check here before they commit."""
    if SIGNALLED:
        raise Terminated() if signal.SIGTERM in SIGNALLED else KeyboardInterrupt()


@contextlib.contextmanager
def progress(description: str, total: int | None = None):
    """A progress bar on stderr (hidden when stderr is not a terminal); yields ``advance(n=1)``, which also
    re-raises an interrupt that was lost (:func:`check_signals`)."""
    quiet = not sys.stderr.isatty() or os.environ.get("CRIMEMAP_QUIET")
    if quiet:
        def advance(n: int = 1, description: str | None = None) -> None:
            check_signals()

        yield advance
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1, description: str | None = None) -> None:
            check_signals()
            bar.update(task, advance=n, **({"description": description} if description else {}))

        yield advance
