"""Progress on stderr: a rich spinner, only when stderr is a terminal and only for slow work.

The spinner appears after ``delay`` seconds (so fast analyses print nothing) and
is removed when the work ends; stdout is never touched.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator


def progress_enabled() -> bool:
    try:
        return sys.stderr.isatty() and not os.environ.get("PARAMSCOPE_NO_PROGRESS")
    except (AttributeError, ValueError):
        return False


_active: list[Callable[[str], None]] = []  # the running spinner's update, when one is running


@contextmanager
def status(message: str, *, enabled: bool = True, delay: float = 0.8) -> Iterator[Callable[[str], None]]:
    """``with status("analysing resnet50") as update: ... update("measuring")``.

    Nested calls reuse the outer spinner (rich allows one live display at a time).
    """
    if _active:  # the outer message (which says "2/5") stays
        yield _active[-1]
        return
    if not enabled or not progress_enabled():
        yield lambda _message: None
        return
    from rich.console import Console

    console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")))
    spinner = console.status(message)
    lock = threading.Lock()
    state = {"done": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                try:
                    spinner.start()
                except Exception:  # a progress display must never break the command
                    state["done"] = True

    def update(text: str) -> None:
        spinner.update(status=text)

    timer = threading.Timer(delay, start)
    timer.daemon = True
    _active.append(update)
    timer.start()
    try:
        yield update
    finally:
        _active.pop()
        timer.cancel()
        with lock:
            state["done"] = True
            spinner.stop()
