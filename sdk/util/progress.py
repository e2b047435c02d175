"""The one progress / cancel protocol of the SDK.

Every long-running function takes ``progress: ProgressFn | None`` — a callable ``progress(fraction, message)`` with
``fraction`` in [0, 1] of *that function's* work. A stage hands its sub-stages a sub-range (:func:`sub`), so the
fractions nest: the CLI bar, the gRPC progress stream and a notebook print all see one monotone 0 -> 1.

Cancellation travels the same way: a callback may raise to stop the work at the next report. The server's
``Job.progress`` raises its ``JobCancelled`` (deadline, CancelJob, client gone); library users can wrap a callback
with :func:`cancellable` and a :class:`CancelToken`, which raises :class:`sdk.errors.Cancelled`. Long loops call
``report`` at least once per iteration, so every stage (kinematic parts, SSDR, harmonic solves, articulation of
every part) is cancellable mid-stage.

The command line wraps a callback in one tqdm bar: :func:`cli_bar`.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterable, TypeVar

from ..errors import Cancelled

T = TypeVar("T")

#: progress(fraction in [0, 1], message) -> None; may raise to cancel
ProgressFn = Callable[[float, str], None]


def report(progress: ProgressFn | None, fraction: float, message: str = "") -> None:
    """Call ``progress`` (if any) with ``fraction`` clamped to [0, 1]."""
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), message)


def sub(progress: ProgressFn | None, lo: float, hi: float) -> ProgressFn | None:
    """The callback for a sub-stage that fills ``[lo, hi]`` of the parent's range (None stays None)."""
    if progress is None:
        return None

    def child(fraction: float, message: str = "") -> None:
        progress(lo + (hi - lo) * float(min(max(fraction, 0.0), 1.0)), message)
    return child


class Steps:
    """``n`` equal steps of a stage: ``steps(message)`` reports the next one as done (``progress(k / n, message)``)."""

    def __init__(self, progress: ProgressFn | None, n: int):
        self.progress = progress
        self.n = max(int(n), 1)
        self.done = 0

    def __call__(self, message: str = "", advance: int = 1) -> None:
        self.done += advance
        report(self.progress, self.done / self.n, message)

    def sub(self, k: int = 1) -> ProgressFn | None:
        """The callback of the next ``k`` steps as one sub-stage (call it, then ``steps.skip(k)``)."""
        return sub(self.progress, self.done / self.n, min((self.done + k) / self.n, 1.0))

    def skip(self, k: int = 1) -> None:
        self.done += k


#: the old name (it was never called; kept importable)
Stage = Steps


def each(items: Iterable[T], progress: ProgressFn | None, message: Callable[[T], str] | str = "",
         total: int | None = None):
    """Iterate ``items`` reporting before each one (so a cancel stops before the next item starts)."""
    items = list(items) if total is None else items
    n = len(items) if total is None else total
    for i, it in enumerate(items):
        report(progress, i / max(n, 1), message(it) if callable(message) else message)
        yield it
    report(progress, 1.0, "done")


class CancelToken:
    """Set from any thread; the wrapped callback raises :class:`sdk.errors.Cancelled` at the next report."""

    def __init__(self):
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def cancellable(progress: ProgressFn | None, token: CancelToken) -> ProgressFn:
    def wrapped(fraction: float, message: str = "") -> None:
        if token.cancelled:
            raise Cancelled("cancelled")
        if progress is not None:
            progress(fraction, message)
    return wrapped


@contextmanager
def cli_bar(desc: str, enable: bool | None = None):
    """The command line's progress bar: ``with cli_bar("rig") as progress: fn(..., progress=progress)``; the bar
    shows percent and the last message on stderr (silenced by ``settings.progress`` / ARTICULATE_PROGRESS=0)."""
    import sys

    from tqdm.auto import tqdm

    from ..config import settings
    bar = tqdm(total=100, desc=desc, disable=not (settings.progress if enable is None else enable), leave=False,
               file=sys.stderr, bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def progress(fraction: float, message: str = "") -> None:
        bar.n = int(100 * min(max(fraction, 0.0), 1.0))
        bar.set_postfix_str(message)
        bar.refresh()
    try:
        yield progress
    finally:
        end_bar(bar)


def end_bar(bar) -> None:
    """Close a CLI tqdm bar and leave the cursor at the start of an empty line, so the error (or result) printed
    next is not glued to the bar's last line (a nested or unclosed bar would otherwise leave its text there)."""
    if bar is None:
        return
    if bar.disable:  # silenced or already closed (a disabled tqdm has no stream)
        bar.close()
        return
    fp = bar.fp
    bar.close()
    try:
        isatty = fp.isatty()
    except (AttributeError, ValueError):
        isatty = False
    # a terminal: carriage return + erase line; a pipe/file: tqdm wrote "\r" + spaces, end that line
    fp.write("\r\x1b[K" if isatty else "\n")
    fp.flush()


def progress(it: Iterable[T], desc: str = "", total: int | None = None, enable: bool | None = None):
    """tqdm over an iterable (silenced by config): for scripts and training loops."""
    from ..config import settings
    if enable is None:
        enable = settings.progress
    if not enable:
        return it
    from tqdm.auto import tqdm
    return tqdm(it, desc=desc, total=total, leave=False, dynamic_ncols=True)
