"""Progress display for long work (tqdm on stderr, silenced by config)."""
from __future__ import annotations

from typing import Iterable, TypeVar

T = TypeVar("T")


def progress(it: Iterable[T], desc: str = "", total: int | None = None, enable: bool | None = None):
    from ..config import settings
    if enable is None:
        enable = settings.progress
    if not enable:
        return it
    from tqdm.auto import tqdm
    return tqdm(it, desc=desc, total=total, leave=False, dynamic_ncols=True)


class Stage:
    """Named steps of a pipeline, reported to a callback (CLI bar, gRPC progress stream)."""

    def __init__(self, callback=None, total: int = 1):
        self.callback = callback
        self.total = total
        self.done = 0

    def __call__(self, message: str, advance: int = 1):
        self.done += advance
        if self.callback is not None:
            self.callback(min(self.done / max(self.total, 1), 1.0), message)
