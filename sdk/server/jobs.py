"""A bounded queue of heavy jobs run by worker threads, with cancellation and event logs.

Every long call (a streaming Rig/RigFromMotion/ArticulateParts call or a SubmitJob) becomes a
:class:`Job`: a function run on a worker with a ``progress(fraction, message)`` callback. The
callback is where cancellation happens: once the job is cancelled (client cancel, deadline,
CancelJob, shutdown) the next callback raises :class:`JobCancelled`, which unwinds the SDK method;
the worker then drops every reference to the job's work and frees memory (and the CUDA cache when
torch has initialised CUDA). Events (progress, results, file chunks, the final status) are
appended to the job's log, which any number of watchers follow.
"""
from __future__ import annotations

import collections
import gc
import logging
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Callable

import grpc

from ..errors import (ArticulateError, AssetReadError, Cancelled, InvalidInputError, MissingDependencyError,
                      MissingWeightsError)
from .gen.articulate.services.v1 import articulate_service_pb2 as spb

log = logging.getLogger("sdk.server")


_current = threading.local()  # the job a worker thread is running (for warnings)


def current_job() -> "Job | None":
    return getattr(_current, "job", None)


def install_warning_relay() -> None:
    """Forward warnings raised while a job runs (e.g. "no motion") to its event stream (idempotent)."""
    import warnings
    if getattr(warnings.showwarning, "_articulate_relay", False):
        return
    original = warnings.showwarning

    def relay(message, category, filename, lineno, file=None, line=None):
        job = current_job()
        if job is not None:
            job.emit(warning=f"{category.__name__}: {message}")
        return original(message, category, filename, lineno, file, line)
    relay._articulate_relay = True
    warnings.showwarning = relay
    # every job should see its own warnings, not only the first job to trigger one at a given line
    warnings.filterwarnings("always", category=UserWarning, module=r"sdk(\.|$)")


class JobCancelled(BaseException):
    """Raised inside a job's progress callback to stop the work.

    A BaseException so that an SDK method's ``except Exception`` cannot swallow it.
    """

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class QueueFull(Exception):
    pass


class QueueClosed(Exception):
    pass


class ResultTooLarge(Exception):
    """A result message would exceed the gRPC max send size."""


@dataclass
class Outcome:
    code: grpc.StatusCode
    message: str = ""
    field: str = ""


def outcome_of(exc: BaseException) -> Outcome:
    """Map an exception raised by SDK work onto a gRPC status."""
    if isinstance(exc, JobCancelled):
        return Outcome(exc.code, exc.message)
    if isinstance(exc, Cancelled):  # a library callback (sdk.util.progress.cancellable) stopped the work
        return Outcome(grpc.StatusCode.CANCELLED, str(exc))
    if isinstance(exc, InvalidInputError):
        return Outcome(grpc.StatusCode.INVALID_ARGUMENT, str(exc), exc.field or "")
    if isinstance(exc, AssetReadError):
        return Outcome(grpc.StatusCode.INVALID_ARGUMENT, str(exc), "input")
    if isinstance(exc, (MissingWeightsError, MissingDependencyError)):
        return Outcome(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, ImportError):  # a method module not in this build (MissingDependencyError handled above)
        return Outcome(grpc.StatusCode.UNIMPLEMENTED, f"not available in this build: {exc}")
    if isinstance(exc, NotImplementedError):
        return Outcome(grpc.StatusCode.UNIMPLEMENTED, str(exc) or "not implemented")
    if isinstance(exc, ResultTooLarge):
        return Outcome(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    if isinstance(exc, MemoryError):
        return Outcome(grpc.StatusCode.RESOURCE_EXHAUSTED, "out of memory")
    if isinstance(exc, ArticulateError):
        return Outcome(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    # anything else (a plain ValueError / KeyError included) is a bug in the SDK, not the client's input: only
    # InvalidInputError / AssetReadError are INVALID_ARGUMENT
    return Outcome(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")


_STATE = {
    "queued": spb.JOB_STATE_QUEUED, "running": spb.JOB_STATE_RUNNING, "succeeded": spb.JOB_STATE_SUCCEEDED,
    "failed": spb.JOB_STATE_FAILED, "cancelled": spb.JOB_STATE_CANCELLED,
}


class Job:
    """One unit of heavy work and the log of its events."""

    #: minimum seconds between two progress events with the same message (bounded event logs)
    progress_interval = 0.05

    def __init__(self, kind: str, fn: Callable[["Job"], None], *, label: str = "", deadline: float | None = None):
        self.id = uuid.uuid4().hex[:16]
        self.kind, self.label = kind, label
        self.fn: Callable[[Job], None] | None = fn
        self.deadline = deadline  # time.monotonic() value
        self.state = "queued"
        self.created = time.monotonic()
        self.started: float | None = None
        self.finished: float | None = None
        self.events: list[spb.JobEvent] = []
        self.final: Outcome | None = None
        self.last_progress = spb.Progress()
        self._cond = threading.Condition()
        self._cancel: JobCancelled | None = None
        self._last_emit = 0.0
        self.nbytes = 0  # size of the event log (bounded retention of finished jobs)

    # ------------------------------------------------------------------ events
    def emit(self, **event) -> None:
        with self._cond:
            ev = spb.JobEvent(job_id=self.id, sequence=len(self.events), **event)
            self.events.append(ev)
            self.nbytes += ev.ByteSize()
            self._cond.notify_all()

    def progress(self, fraction: float, message: str = "") -> None:
        """The callback handed to SDK methods: records progress, and stops cancelled work."""
        self.check()
        now = time.monotonic()
        fraction = float(min(max(fraction, 0.0), 1.0)) if fraction == fraction else 0.0
        if message == self.last_progress.message and now - self._last_emit < self.progress_interval and fraction < 1:
            return
        self._last_emit = now
        self.last_progress = spb.Progress(fraction=fraction, stage=self.kind, message=str(message))
        self.emit(progress=self.last_progress)

    def check(self) -> None:
        if self._cancel is not None:
            raise self._cancel
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.cancel(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            raise self._cancel

    def cancel(self, code: grpc.StatusCode = grpc.StatusCode.CANCELLED, message: str = "cancelled") -> bool:
        """Ask the job to stop; a queued job never starts. False when it had already ended."""
        with self._cond:
            if self.state in ("succeeded", "failed", "cancelled"):
                return False
            if self._cancel is None:
                self._cancel = JobCancelled(code, message)
            if self.state == "queued":
                self._finish(Outcome(code, message))
            self._cond.notify_all()
            return True

    @property
    def cancelled(self) -> bool:
        return self._cancel is not None

    @property
    def done(self) -> bool:
        return self.final is not None

    def _finish(self, outcome: Outcome) -> None:  # with self._cond held
        if self.final is not None:
            return
        self.final = outcome
        self.finished = time.monotonic()
        self.state = ("succeeded" if outcome.code == grpc.StatusCode.OK else
                      "cancelled" if outcome.code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED)
                      else "failed")
        elapsed = self.finished - (self.started or self.created)
        self.events.append(spb.JobEvent(job_id=self.id, sequence=len(self.events), final=spb.FinalStatus(
            code=outcome.code.value[0], message=outcome.message, field=outcome.field, elapsed_s=elapsed)))
        self.fn = None
        self._cond.notify_all()

    def finish(self, outcome: Outcome) -> None:
        with self._cond:
            self._finish(outcome)

    def wait(self, start: int, timeout: float) -> tuple[list[spb.JobEvent], bool]:
        """Events from index ``start`` on (blocking up to ``timeout`` for new ones) and whether the job ended."""
        with self._cond:
            if len(self.events) <= start and self.final is None:
                self._cond.wait(timeout)
            return self.events[start:], self.final is not None

    def handle(self, queue_position: int = 0) -> spb.JobHandle:
        h = spb.JobHandle(job_id=self.id, state=_STATE[self.state], progress=self.last_progress,
                          queue_position=queue_position)
        if self.final is not None:
            h.final.CopyFrom(self.events[-1].final)
        return h


class JobQueue:
    """``workers`` threads take jobs FIFO from a queue holding at most ``capacity`` waiting jobs."""

    def __init__(self, workers: int = 1, capacity: int = 64, *, retain: int = 256, retain_bytes: int = 1 << 30):
        """``retain`` / ``retain_bytes``: finished SubmitJob jobs kept for WatchJob (oldest dropped first)."""
        self.workers, self.capacity, self.retain, self.retain_bytes = max(1, workers), max(0, capacity), retain, retain_bytes
        self._pending: collections.deque[Job] = collections.deque()
        self._jobs: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self._lock = threading.Condition()
        self._closed = False
        self._running: set[Job] = set()
        self._threads = [threading.Thread(target=self._work, name=f"articulate-job-{i}", daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()

    def submit(self, job: Job) -> Job:
        with self._lock:
            if self._closed:
                raise QueueClosed("the server is shutting down and takes no new jobs")
            waiting = sum(1 for j in self._pending if not j.done)
            if waiting >= self.capacity:
                raise QueueFull(f"job queue is full ({waiting} jobs waiting, capacity {self.capacity}); retry later")
            self._pending.append(job)
            self._jobs[job.id] = job
            self._evict()
            self._lock.notify()
        return job

    def _evict(self) -> None:  # with self._lock held
        done = [j for j in self._jobs.values() if j.done]
        n, size = len(done), sum(j.nbytes for j in done)
        for j in done:  # oldest first (insertion order)
            if n <= self.retain and size <= self.retain_bytes:
                break
            self._jobs.pop(j.id, None)
            n, size = n - 1, size - j.nbytes

    def forget(self, job: Job) -> None:
        """Drop a finished job whose only reader (its streaming call) is gone."""
        with self._lock:
            if job.done:
                self._jobs.pop(job.id, None)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        with self._lock:
            live = [j for j in self._pending if not j.done]
            return live.index(job) + 1 if job in live else 0

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._running) + sum(1 for j in self._pending if not j.done)

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if not self._pending and self._closed:
                    return
                job = self._pending.popleft()
                if job.done:  # cancelled while queued
                    continue
                self._running.add(job)
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._running.discard(job)
                    self._lock.notify_all()

    def _run(self, job: Job) -> None:
        with job._cond:
            if job.final is not None:
                return
            job.state, job.started = "running", time.monotonic()
            fn = job.fn
        _current.job = job
        try:
            job.check()
            fn(job)
            job.check()  # cancelled during the last step: report it, not a result
            outcome = Outcome(grpc.StatusCode.OK, "done")
        except BaseException as e:  # noqa: BLE001 - every failure becomes the job's status
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            outcome = outcome_of(e)
            if outcome.code == grpc.StatusCode.INTERNAL:
                log.error("job %s (%s) failed:\n%s", job.id, job.kind, "".join(traceback.format_exception(e)))
        finally:
            fn = None
            _current.job = None
        job.finish(outcome)
        # a failed or cancelled job's traceback holds its frames (and arrays) in reference cycles:
        # collect them now; a successful job's work is freed by reference counting alone (a full
        # gc.collect() would hold the GIL for tens of ms while its final event is being sent)
        _free_memory(full=outcome.code != grpc.StatusCode.OK)

    def close(self) -> None:
        """Take no new jobs; queued and running ones go on."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until no job is queued or running; True when that happened within ``timeout``."""
        end = time.monotonic() + timeout
        with self._lock:
            while self._running or any(not j.done for j in self._pending):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.2))
        return True

    def cancel_all(self, message: str = "server shutting down") -> int:
        with self._lock:
            jobs = list(self._running) + list(self._pending)
        return sum(j.cancel(grpc.StatusCode.UNAVAILABLE, message) for j in jobs)

    def join(self, timeout: float = 5.0) -> None:
        self.close()
        for t in self._threads:
            t.join(timeout)


def _free_memory(full: bool = True) -> None:
    if full:
        gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_initialized():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - freeing is best effort
            pass
