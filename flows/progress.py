"""Progress of long steps, for whoever is watching.

Flows and tasks call :func:`step` as work advances; the `yeji` command line listens and
draws progress bars. Under a Prefect worker nobody listens and this costs nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

Listener = Callable[[str, int, int], None]  # (what, done, total)
_listeners: list[Listener] = []


def step(what: str, done: int, total: int) -> None:
    """``done`` of ``total`` units of ``what`` are finished."""
    for listener in list(_listeners):
        listener(what, done, total)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
