"""Terminal output for the CLI: rich consoles on stdout/stderr, progress bars, one-line failures."""

from __future__ import annotations

import contextlib
import os
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


@contextlib.contextmanager
def progress(description: str, total: int | None = None):
    """A progress bar on stderr (hidden when stderr is not a terminal); yields ``advance(n=1)``."""
    quiet = not sys.stderr.isatty() or os.environ.get("CRIMEMAP_QUIET")
    if quiet:
        yield lambda n=1, description=None: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1, description: str | None = None) -> None:
            bar.update(task, advance=n, **({"description": description} if description else {}))

        yield advance
