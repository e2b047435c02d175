"""A bounded queue of heavy jobs, each run in a worker process that can be stopped at any moment.

Every long call (a streaming Rig/RigFromMotion/ArticulateParts call or a SubmitJob) becomes a
:class:`Job`: a function run with a ``progress(fraction, message)`` callback. With
``isolation="process"`` (the default) a queue worker thread forks a child process per job; the child
runs the function and sends its events (progress, results, file chunks, warnings) and its outcome
back over a pipe. Cancellation (client cancel, deadline, CancelJob, shutdown) kills the child, so a
15-60 s solve stops within the worker's poll interval (50 ms) and every byte of its memory goes
back to the system with the process; nothing of the work is left in the server.

``isolation="thread"`` runs jobs on the worker threads themselves (for platforms without ``fork``,
or a CUDA build that must keep one context): cancellation then happens at the next progress step.
In both modes a cancelled job keeps no traceback: :class:`JobCancelled` is raised fresh each time
and the outcome stores only code and message.

Events are appended to the job's log, which any number of watchers follow (threads via
:meth:`Job.wait`, asyncio handlers via :meth:`Job.add_waiter`).
"""
from __future__ import annotations

import collections
import gc
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
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

ISOLATIONS = ("process", "thread")
_CODES = {c.value[0]: c for c in grpc.StatusCode}

_current = threading.local()  # the job a worker thread (or a job's child process) is running, for warnings


def current_job():
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
    """Raised inside a job's progress callback to stop the work (thread isolation).

    A BaseException so that an SDK method's ``except Exception`` cannot swallow it. Raised fresh on
    every check, never stored: a stored exception would keep the traceback (and the solver's arrays
    in its frames) alive after the job ended.
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
    """A result cannot be delivered (over the protobuf 2 GiB limit even in chunks)."""


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


class _Throttle:
    """Drops repeated progress events with the same message closer than ``interval`` seconds."""

    interval = 0.05

    def __init__(self):
        self.last = spb.Progress()
        self.t = 0.0

    def __call__(self, kind: str, fraction, message) -> spb.Progress | None:
        now = time.monotonic()
        try:
            fraction = float(fraction)
        except (TypeError, ValueError):
            fraction = 0.0
        fraction = min(max(fraction, 0.0), 1.0) if fraction == fraction else 0.0
        message = str(message)
        if message == self.last.message and now - self.t < self.interval and fraction < 1:
            return None
        self.t = now
        self.last = spb.Progress(fraction=fraction, stage=kind, message=message)
        return self.last


class Job:
    """One unit of heavy work and the log of its events."""

    def __init__(self, kind: str, fn: Callable[["Job"], None], *, label: str = "", deadline: float | None = None,
                 spec=None):
        """``spec``: a picklable recipe with ``make() -> fn`` that rebuilds the job in a worker process
        (process isolation); a job without one runs on the queue's thread."""
        self.id = uuid.uuid4().hex[:16]
        self.kind, self.label = kind, label
        self.fn: Callable[[Job], None] | None = fn
        self.spec = spec
        self.deadline = deadline  # time.monotonic() value
        self.state = "queued"
        self.created = time.monotonic()
        self.started: float | None = None
        self.finished: float | None = None
        self.events: list[spb.JobEvent] = []
        self.final: Outcome | None = None
        self._cond = threading.Condition()
        self._cancel: tuple[grpc.StatusCode, str] | None = None  # code and message only: no exception kept
        self._throttle = _Throttle()
        self._waiters: list = []  # (loop, asyncio.Event) of asyncio followers
        self.nbytes = 0  # size of the event log (bounded retention of finished jobs)

    @property
    def last_progress(self) -> spb.Progress:
        return self._throttle.last

    # ------------------------------------------------------------------ events
    def _notify(self) -> None:  # with self._cond held
        self._cond.notify_all()
        for loop, ev in self._waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # the loop is closed (server stopped)
                pass

    def add_waiter(self, loop, event) -> None:
        with self._cond:
            self._waiters.append((loop, event))

    def remove_waiter(self, event) -> None:
        with self._cond:
            self._waiters = [(lp, e) for lp, e in self._waiters if e is not event]

    def append(self, ev: spb.JobEvent) -> None:
        """Add an event made elsewhere (a job's child process), numbering it."""
        with self._cond:
            ev.job_id, ev.sequence = self.id, len(self.events)
            if ev.WhichOneof("event") == "progress":
                self._throttle.last = ev.progress
            self.events.append(ev)
            self.nbytes += ev.ByteSize()
            self._notify()

    def emit(self, **event) -> None:
        self.append(spb.JobEvent(**event))

    def progress(self, fraction: float, message: str = "") -> None:
        """The callback handed to SDK methods (thread isolation): records progress, and stops cancelled work."""
        self.check()
        p = self._throttle(self.kind, fraction, message)
        if p is not None:
            self.emit(progress=p)

    def cancel_reason(self) -> tuple[grpc.StatusCode, str] | None:
        """Why the job must stop now (cancelled, or past its deadline), else None."""
        if self._cancel is not None:
            return self._cancel
        if self.deadline is not None and time.monotonic() > self.deadline:
            with self._cond:
                if self._cancel is None:
                    self._cancel = (grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            return self._cancel
        return None

    def check(self) -> None:
        reason = self.cancel_reason()
        if reason is not None:
            raise JobCancelled(*reason)

    def cancel(self, code: grpc.StatusCode = grpc.StatusCode.CANCELLED, message: str = "cancelled") -> bool:
        """Ask the job to stop; a queued job never starts. False when it had already ended."""
        with self._cond:
            if self.final is not None:
                return False
            if self._cancel is None:
                self._cancel = (code, message)
            if self.state == "queued":
                self._finish(Outcome(*self._cancel))
            self._notify()
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
        ev = spb.JobEvent(job_id=self.id, sequence=len(self.events), final=spb.FinalStatus(
            code=outcome.code.value[0], message=outcome.message, field=outcome.field, elapsed_s=elapsed))
        self.events.append(ev)
        self.nbytes += ev.ByteSize()
        self.fn = self.spec = None  # the plan's closure (decoded inputs) goes with it
        self._notify()

    def finish(self, outcome: Outcome) -> None:
        with self._cond:
            self._finish(outcome)

    def since(self, start: int) -> tuple[list[spb.JobEvent], bool]:
        with self._cond:
            return self.events[start:], self.final is not None

    def wait(self, start: int, timeout: float) -> tuple[list[spb.JobEvent], bool]:
        """Events from index ``start`` on (blocking up to ``timeout`` for new ones) and whether the job ended."""
        with self._cond:
            if len(self.events) <= start and self.final is None:
                self._cond.wait(timeout)
            return self.events[start:], self.final is not None

    def drop_events(self) -> None:
        """Release the event log of a job nobody will read again (its final status stays)."""
        with self._cond:
            if self.final is not None and self.events:
                self.events = self.events[-1:]
                self.nbytes = self.events[0].ByteSize()

    def handle(self, queue_position: int = 0) -> spb.JobHandle:
        h = spb.JobHandle(job_id=self.id, state=_STATE[self.state], progress=self.last_progress,
                          queue_position=queue_position)
        with self._cond:
            if self.final is not None:
                h.final.CopyFrom(self.events[-1].final)
        return h


# ---------------------------------------------------------------------------------- child processes

class ChildJob:
    """What a job function sees inside its worker process: events go to the parent over a pipe."""

    def __init__(self, job_id: str, kind: str, conn):
        self.id, self.kind, self._conn = job_id, kind, conn
        self._throttle = _Throttle()

    def emit(self, **event) -> None:
        self._conn.send_bytes(b"E" + spb.JobEvent(**event).SerializeToString())

    def progress(self, fraction: float, message: str = "") -> None:
        p = self._throttle(self.kind, fraction, message)
        if p is not None:
            self.emit(progress=p)

    def check(self) -> None:
        """Nothing to do: the parent stops this process when the job is cancelled."""


def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the server process dies (even by SIGKILL)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on every platform
        pass


def _child_main(job_id: str, kind: str, spec, conn, tmpdir: str) -> None:
    """A job's worker process (forked from the fork server, which holds no threads and no gRPC state)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the server decides when its jobs stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    tempfile.tempdir = tmpdir                      # removed by the parent however the child ends
    install_warning_relay()
    proxy = ChildJob(job_id, kind, conn)
    _current.job = proxy
    try:
        spec.make()(proxy)
        outcome = Outcome(grpc.StatusCode.OK, "done")
    except BaseException as e:  # noqa: BLE001 - every failure becomes the job's status
        outcome = outcome_of(e)
        if outcome.code == grpc.StatusCode.INTERNAL:
            sys.stderr.write(f"job {job_id} ({kind}) failed:\n{''.join(traceback.format_exception(e))}")
    try:
        conn.send_bytes(b"F" + json.dumps([outcome.code.value[0], outcome.message, outcome.field]).encode())
        conn.close()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # no atexit handlers, no interpreter teardown of the parent's copied state


#: modules the fork server imports once, so every job's process starts warm (a cold torch import costs seconds)
PRELOAD = ["torch", "sdk.articulator", "sdk.server.service", "sdk.server._warm"]
_fork_server_lock = threading.Lock()
_fork_server_started = False


def _start_fork_server() -> None:
    """Start multiprocessing's fork server (a fresh single-threaded interpreter) in the background.

    Jobs are forked from it, never from the server itself: forking a process that runs gRPC threads
    can crash the child (seen here: a segfault in ``threading._after_fork``).
    """
    global _fork_server_started
    import multiprocessing as mp
    with _fork_server_lock:
        if _fork_server_started:
            return
        _fork_server_started = True
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([m for m in PRELOAD if _importable(m)])

    def warm():
        try:
            from multiprocessing import forkserver
            forkserver.ensure_running()
        except Exception:  # noqa: BLE001 - the first job starts it then, and reports a failure
            log.exception("starting the job fork server")
    threading.Thread(target=warm, name="articulate-forkserver", daemon=True).start()


def _importable(name: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class JobQueue:
    """``workers`` threads take jobs FIFO from a queue holding at most ``capacity`` waiting jobs."""

    #: seconds between two looks at a running child (cancellation latency)
    poll_s = 0.05

    def __init__(self, workers: int = 1, capacity: int = 64, *, retain: int = 256, retain_bytes: int = 1 << 30,
                 isolation: str = "process"):
        """``retain`` / ``retain_bytes``: finished SubmitJob jobs kept for WatchJob (oldest dropped first)."""
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}")
        if isolation == "process" and not hasattr(os, "fork"):
            isolation = "thread"
        self.isolation = isolation
        if isolation == "process":
            _start_fork_server()
        self.workers, self.capacity, self.retain, self.retain_bytes = max(1, workers), max(0, capacity), retain, retain_bytes
        self._pending: collections.deque[Job] = collections.deque()
        self._jobs: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self._lock = threading.Condition()
        self._closed = False
        self._running: set[Job] = set()
        self._children: dict[str, object] = {}  # job id -> multiprocessing.Process
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
        """Drop a job whose only reader (its streaming call) is gone; a live one is cancelled first."""
        job.cancel(grpc.StatusCode.CANCELLED, "the call ended")
        with self._lock:
            self._jobs.pop(job.id, None)
            try:
                self._pending.remove(job)
            except ValueError:
                pass
        job.drop_events()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def position(self, job: Job) -> int:
        with self._lock:
            live = [j for j in self._pending if not j.done]
            return live.index(job) + 1 if job in live else 0

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._running) + sum(1 for j in self._pending if not j.done)

    def child_pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._children.values() if p.pid]

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
            except Exception:  # noqa: BLE001 - a worker thread must survive anything
                log.exception("job %s: runner failed", job.id)
                job.finish(Outcome(grpc.StatusCode.INTERNAL, "the job runner failed"))
            finally:
                with self._lock:
                    self._running.discard(job)
                    self._lock.notify_all()

    def _run(self, job: Job) -> None:
        with job._cond:
            if job.final is not None:
                return
            job.state, job.started = "running", time.monotonic()
            fn, spec = job.fn, job.spec
        if self.isolation == "process" and spec is not None:
            fn = None
            outcome = self._run_in_child(job, spec)
        else:
            outcome = self._run_inline(job, fn)
        fn = None
        job.finish(outcome)
        _free_memory(full=outcome.code != grpc.StatusCode.OK and self.isolation == "thread")

    def _run_inline(self, job: Job, fn) -> Outcome:
        _current.job = job
        try:
            job.check()
            fn(job)
            job.check()  # cancelled during the last step: report it, not a result
            return Outcome(grpc.StatusCode.OK, "done")
        except BaseException as e:  # noqa: BLE001 - every failure becomes the job's status
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            outcome = outcome_of(e)
            if outcome.code == grpc.StatusCode.INTERNAL:
                log.error("job %s (%s) failed:\n%s", job.id, job.kind, "".join(traceback.format_exception(e)))
            e.__traceback__ = None  # the frames hold the work's arrays
            return outcome
        finally:
            _current.job = None

    def _run_in_child(self, job: Job, spec) -> Outcome:
        import multiprocessing as mp
        ctx = mp.get_context("forkserver")
        tmp = tempfile.mkdtemp(prefix=f"articulate-job-{job.id}-")
        r, w = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child_main, args=(job.id, job.kind, spec, w, tmp), name=f"articulate-job-{job.id}",
                           daemon=True)
        spec = None
        outcome = None
        try:
            reason = job.cancel_reason()
            if reason is not None:
                return Outcome(*reason)
            try:
                proc.start()
            except Exception as e:  # noqa: BLE001 - e.g. the spec does not pickle
                log.error("job %s: cannot start its worker process: %s", job.id, e)
                return Outcome(grpc.StatusCode.INTERNAL, f"cannot start the job's worker process: {type(e).__name__}")
            finally:
                w.close()
            with self._lock:
                self._children[job.id] = proc
            while outcome is None:
                reason = job.cancel_reason()
                if reason is not None:
                    proc.kill()
                    outcome = Outcome(*reason)
                    break
                if not r.poll(self.poll_s):
                    continue
                try:
                    buf = r.recv_bytes()
                except (EOFError, OSError):
                    proc.join(1.0)
                    code = proc.exitcode
                    reason = job.cancel_reason()
                    if reason is not None:
                        outcome = Outcome(*reason)
                    elif code is not None and code < 0 and -code == signal.SIGKILL:
                        outcome = Outcome(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                          "the job's worker process was killed (out of memory?)")
                    else:
                        outcome = Outcome(grpc.StatusCode.INTERNAL, f"the job's worker process died (exit code {code})")
                    break
                tag, payload = buf[:1], buf[1:]
                if tag == b"E":
                    if job.cancel_reason() is None:
                        job.append(spb.JobEvent.FromString(payload))
                elif tag == b"F":
                    code, message, field = json.loads(payload)
                    reason = job.cancel_reason()  # cancelled during the last step: report it, not a result
                    outcome = Outcome(*reason) if reason is not None else Outcome(_CODES.get(code, grpc.StatusCode.UNKNOWN),
                                                                                  message, field)
                del buf, payload
            return outcome
        finally:
            r.close()
            if proc.pid is not None:
                if proc.is_alive():
                    proc.kill()
                proc.join(5.0)
            with self._lock:
                self._children.pop(job.id, None)
            shutil.rmtree(tmp, ignore_errors=True)

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


_libc = None


def tune_malloc() -> None:
    """glibc: allocations of 256 KiB and more always get their own mapping, returned to the system when freed.

    By default glibc raises its mmap threshold each time such a block is freed, after which request
    payloads, decoded arrays and upload chunks (1 MiB) land in the heap and stay in the server's RSS
    after the call: the harness measured +51 MB over 20 cancels and +255 MB for 16 half-open uploads
    before this. The value is ours (not glibc's default of a 128 KiB *starting* threshold).
    """
    global _libc
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 256 << 10)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 20)
        _libc = libc
    except (OSError, AttributeError):  # not glibc
        pass


def trim_memory() -> None:
    """Give freed heap pages back to the system (glibc malloc_trim), after a call's data is dropped."""
    if _libc is not None:
        try:
            _libc.malloc_trim(0)
        except Exception:  # noqa: BLE001
            pass


def _free_memory(full: bool = True) -> None:
    if full:
        gc.collect()
    trim_memory()
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_initialized():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - freeing is best effort
            pass
