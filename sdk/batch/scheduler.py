"""Run one task per asset of a folder on Ray: local Ray by default, a cluster with ``ray_address``.

    from sdk.batch import BatchConfig, run_batch
    summary = run_batch("library/", "out/", BatchConfig(task="auto", options={"method": "heat"}))

Workers are Ray *actors* (``BatchWorker``): each imports the SDK, torch and OpenUSD and builds its heavy objects
(``tasks.worker_resource``) once, then runs one asset per call. The driver keeps one call in flight per actor, so
a worker that dies (abort, segfault in a native library, killed for memory) takes exactly one asset with it:
Ray restarts the actor and the asset is tried again up to ``max_retries`` times, then recorded as failed with
the reason. GPU tasks run on actors that declare ``num_gpus=gpus_per_task``. Inputs and outputs are passed by
path (a shared filesystem on a cluster); only small outcome dicts cross Ray's object store.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import (ArticulateError, AssetReadError, InvalidInputError, MissingDependencyError,
                      MissingWeightsError)
from . import tasks as T
from .manifest import Manifest, file_hash, options_hash

log = logging.getLogger("sdk.batch")
Progress = Callable[[float, str], None]
ASSETS_DIR = "assets"
STAGING_DIR = ".staging"


@dataclass
class BatchConfig:
    task: str = "auto"                      # a name in sdk.batch.tasks.TASKS, or auto (tasks.classify per file)
    options: dict = field(default_factory=dict)  # task options (each task reads only its own; see TaskSpec.defaults)
    workers: int | None = None              # actors; default: every CPU of the Ray cluster (local: this machine)
    ray_address: str | None = None          # None: start a local Ray; "auto" / "HOST:PORT": join that cluster
    gpus_per_task: float = 0.0              # GPU share of each GPU task (rig-from-motion); 0: CPU only
    max_retries: int = 1                    # extra attempts when a worker dies on an asset (ours)
    memory_limit_mb: int | None = 4096      # address space one task may add to its worker; past it -> MemoryError (ours)
    task_timeout_s: float | None = None     # a task running longer is killed with its worker and recorded failed
    retry_invalid: bool = False             # also redo assets whose file was rejected as input last time
    force: bool = False                     # redo everything
    report: bool = True                     # write OUT_DIR/report.html
    progress_bar: bool = True               # one tqdm bar on stderr (done / failed / running, assets/min)
    shutdown_ray: bool = True               # stop a local Ray this batch started (a server keeps it for the next job)


def _missing_ray():
    return MissingDependencyError("ray", "batch processing (articulate batch)", "pip install articulate-sdk[batch]")


def import_ray():
    try:
        import ray
    except ImportError as e:
        raise _missing_ray() from e
    return ray


# ================================================================================================= worker side
def _vm_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


class _MemoryLimit:
    """RLIMIT_AS = the worker's current address space + ``mb``: an allocation past it fails (MemoryError in numpy,
    'can't allocate memory' in torch) instead of taking the node down; restored afterwards."""

    def __init__(self, mb: int | None):
        self.mb = mb

    def __enter__(self):
        if not self.mb or sys.platform != "linux":
            return self
        import resource
        self.old = resource.getrlimit(resource.RLIMIT_AS)
        lim = _vm_bytes() + (int(self.mb) << 20)
        hard = self.old[1]
        if hard != resource.RLIM_INFINITY:
            lim = min(lim, hard)
        resource.setrlimit(resource.RLIMIT_AS, (lim, hard))
        return self

    def __exit__(self, *exc):
        if self.mb and sys.platform == "linux":
            import resource
            resource.setrlimit(resource.RLIMIT_AS, self.old)
        return False


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and "can't allocate memory" in str(e))


def _move_into_place(staging: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_one(spec: T.TaskSpec, asset_path: str, final_dir: str, staging_root: str, options: dict,
            memory_limit_mb: int | None = None) -> dict:
    """Run one task on one asset in this process: the body of a worker call (also the sequential baseline).

    Returns the outcome: status (done / failed / invalid / unavailable), outputs, stats, findings, error,
    timings and the worker's pid/host/memory.
    """
    t0 = time.perf_counter()
    staging = Path(staging_root) / uuid.uuid4().hex
    staging.mkdir(parents=True, exist_ok=True)
    T.begin_stages()
    out: dict = {"status": "failed", "outputs": {}, "stats": {}, "findings": [], "error": None, "error_kind": None}
    try:
        missing = spec.missing()
        if missing:
            raise MissingDependencyError(missing, f"batch task '{spec.name}'")
        fn = spec.resolve()
        with _MemoryLimit(memory_limit_mb):
            res = fn(Path(asset_path), staging, dict(options))
        out.update(status="done", outputs=dict(res.get("outputs", {})), stats=dict(res.get("stats", {})),
                   findings=list(res.get("findings", [])))
        _move_into_place(staging, Path(final_dir))
    except BaseException as e:  # noqa: BLE001 - every failure is recorded with the asset, the batch goes on
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        _, open_stage = T.stage_report()
        if isinstance(e, (MissingDependencyError, MissingWeightsError)):
            kind, status = "unavailable", "unavailable"
        elif _is_oom(e):
            kind, status = "out_of_memory", "failed"
        elif isinstance(e, (AssetReadError, InvalidInputError)) or open_stage == "load":
            kind, status = "invalid_input", "invalid"
        elif isinstance(e, ArticulateError):
            kind, status = "error", "failed"
        else:
            kind, status = "exception", "failed"
        msg = f"{type(e).__name__}: {e}" if not isinstance(e, ArticulateError) else str(e)
        if kind == "out_of_memory":
            msg = f"out of memory (per-task limit {memory_limit_mb} MiB): {msg}"
        out.update(status=status, error=msg[:2000], error_kind=kind, stage=open_stage,
                   traceback="".join(traceback.format_exception(e))[-4000:])
        shutil.rmtree(staging, ignore_errors=True)
    stages, _ = T.stage_report()
    out["timings"] = {**{k: round(v, 4) for k, v in stages.items()}, "task": round(time.perf_counter() - t0, 4)}
    import resource
    out["worker"] = {"pid": os.getpid(), "host": socket.gethostname(), "rss_mb": round(_rss_mb(), 1),
                     "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    return out


class BatchWorker:
    """A Ray actor: warms up once (imports, Articulator), then runs assets one call at a time."""

    def __init__(self, memory_limit_mb: int | None, env: dict[str, str], warmups: list[str]):
        import importlib
        os.environ.update(env)
        t0 = time.perf_counter()
        for w in warmups:  # heavy imports and models, once per worker process
            mod, fn = w.split(":")
            try:
                getattr(importlib.import_module(mod), fn)()
            except ImportError as e:  # the task will report itself unavailable
                log.warning("warm-up %s failed: %s", w, e)
        self.memory_limit_mb = memory_limit_mb
        self.warm_s = time.perf_counter() - t0

    def ready(self) -> dict:
        return {"pid": os.getpid(), "warm_s": self.warm_s, "rss_mb": _rss_mb()}

    def run(self, spec, asset_path, final_dir, staging_root, options) -> dict:
        return run_one(spec, asset_path, final_dir, staging_root, options, self.memory_limit_mb)


# ================================================================================================= driver side
@dataclass
class _Item:
    rel: str
    path: Path
    entry: dict          # the manifest entry being built
    spec: T.TaskSpec
    options: dict
    attempts: int = 0
    submitted: float = 0.0
    timed_out: bool = False


def scan(input_dir: Path, out_dir: Path) -> list[Path]:
    """Every regular file under ``input_dir`` (sorted; hidden names and the output folder skipped)."""
    out_dir = out_dir.resolve()
    files = []
    for root, dirs, names in os.walk(input_dir):
        r = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (r / d).resolve() != out_dir)
        files += [r / n for n in sorted(names) if not n.startswith(".") and (r / n).is_file()]
    return files


def asset_out_dir(rel: str) -> str:
    """``chars/critter.obj`` -> ``assets/chars/critter-obj`` (relative to OUT_DIR)."""
    p = Path(rel)
    name = p.stem + ("-" + p.suffix[1:].lower() if p.suffix else "")
    return (Path(ASSETS_DIR) / p.parent / name).as_posix()


def _known_options() -> set[str]:
    return {k for s in T.TASKS.values() for k in s.defaults} | {f"{s.name}.{k}" for s in T.TASKS.values()
                                                                for k in s.defaults}


def plan(input_dir: Path, out_dir: Path, cfg: BatchConfig, manifest: Manifest) -> tuple[list[_Item], dict[str, dict], dict]:
    """Decide per file: keep the manifest's entry (finished and unchanged), record it (unsupported, duplicate,
    unavailable) or run it. -> (items to run, entries decided now, counts)"""
    if cfg.task != "auto":
        T.get_task(cfg.task)
    unknown = sorted(set(cfg.options) - _known_options())
    if unknown:
        plain = sorted(k for k in _known_options() if "." not in k)
        raise InvalidInputError(f"unknown option '{unknown[0]}' (options: {', '.join(plain)}; TASK.NAME sets one "
                                f"task's option only, e.g. rig.method)",
                                field=f"--set {unknown[0]}")
    todo: list[_Item] = []
    decided: dict[str, dict] = {}
    counts = {"cached": 0}
    first_of_hash: dict[str, str] = {}
    for path in scan(input_dir, out_dir):
        rel = path.relative_to(input_dir).as_posix()
        st = path.stat()
        prev = manifest.entries.get(rel)
        if prev and prev.get("size") == st.st_size and prev.get("mtime_ns") == st.st_mtime_ns and prev.get("content_hash"):
            h = prev["content_hash"]
        else:
            h = file_hash(path)
        base = {"path": rel, "source": str(path.resolve()), "content_hash": h, "size": st.st_size,
                "mtime_ns": st.st_mtime_ns, "out_dir": asset_out_dir(rel)}
        if st.st_size and h in first_of_hash:
            decided[rel] = {**base, "status": "duplicate", "duplicate_of": first_of_hash[h], "task": None,
                            "error": f"same content as {first_of_hash[h]}", "outputs": {}, "timings": {}}
            continue
        if st.st_size:
            first_of_hash[h] = rel
        task = T.classify(path) if cfg.task == "auto" else cfg.task
        spec = T.TASKS[task]
        if path.suffix.lower() not in spec.suffixes:
            why = (f"no task reads '{path.suffix or path.name}' files" if cfg.task == "auto" else
                   f"task '{task}' does not read '{path.suffix or path.name}' files ({', '.join(spec.suffixes)})")
            decided[rel] = {**base, "status": "unsupported", "task": None if cfg.task == "auto" else task, "error": why,
                            "outputs": {}, "timings": {}}
            continue
        opts = spec.options_for(cfg.options)
        oh = options_hash(task, spec.version, opts)
        base.update(task=task, options=opts, options_hash=oh)
        same = (not cfg.force and prev is not None and prev.get("content_hash") == h and prev.get("task") == task
                and prev.get("options_hash") == oh)
        if same and prev["status"] == "done" and all((out_dir / prev["out_dir"] / f).exists()
                                                     for f in prev.get("outputs", {}).values()):
            counts["cached"] += 1
            decided[rel] = {**prev, **{k: base[k] for k in ("source", "size", "mtime_ns")}}
            continue
        if same and prev["status"] == "invalid" and not cfg.retry_invalid:
            counts["cached"] += 1
            decided[rel] = {**prev, **{k: base[k] for k in ("source", "size", "mtime_ns")}}
            continue
        missing = spec.missing()
        if missing:
            decided[rel] = {**base, "status": "unavailable", "error_kind": "unavailable", "outputs": {}, "timings": {},
                            "error": f"task '{task}' needs module '{missing}', which is not installed in this "
                                     f"checkout (the batch goes on without it)"}
            continue
        todo.append(_Item(rel, path, {**base, "attempts": 0}, spec, opts))
    # longest first (task cost, then file size): the slow assets do not all land at the end of the batch
    todo.sort(key=lambda it: (-it.spec.cost, -it.entry["size"]))
    return todo, decided, counts


class _Bar:
    def __init__(self, total: int, initial: int, enabled: bool, progress: Progress | None):
        self.total, self.n, self.progress = total, initial, progress
        self.done = self.failed = self.running = 0
        self.t0 = time.perf_counter()
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, initial=initial, desc="batch", unit="asset", file=sys.stderr,
                            dynamic_ncols=True, bar_format="{desc}: {n}/{total} |{bar}| {postfix} [{elapsed}<{remaining}]")
        self.update(0)

    def update(self, n: int, message: str = ""):
        self.n += n
        rate = 60 * (self.done + self.failed) / max(time.perf_counter() - self.t0, 1e-9)
        post = f"done={self.done} failed={self.failed} running={self.running} {rate:.1f}/min"
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix_str(post, refresh=True)
        if self.progress is not None:
            self.progress(self.n / max(self.total, 1), f"{post}{'; ' + message if message else ''}")

    def start(self):
        """Throughput counts from the first dispatch (Ray start-up is reported on its own)."""
        self.t0 = time.perf_counter()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _connect(ray, cfg: BatchConfig, n_todo: int) -> bool:
    """Join or start Ray; True when this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    _POOLS.clear()  # actors of an earlier Ray instance
    env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "ARTICULATE_PROGRESS": "0"}
    kw = dict(logging_level=logging.WARNING, log_to_driver=False, runtime_env={"env_vars": env})
    if cfg.ray_address:
        ray.init(address=cfg.ray_address, **kw)
    else:
        ray.init(num_cpus=cfg.workers or os.cpu_count() or 1, include_dashboard=False, **kw)
    return True


#: actors kept between batches while Ray stays up (a server, a test session): key -> pools
_POOLS: dict[tuple, dict[str, list]] = {}


def _pools(ray, cfg: BatchConfig, todo: list[_Item], keep: bool) -> dict[str, list]:
    res = ray.cluster_resources()
    n_cpu = max(int(res.get("CPU", 1)), 1)
    gpu_tasks = cfg.gpus_per_task > 0 and any(it.spec.uses_gpu for it in todo)
    if gpu_tasks and res.get("GPU", 0) < cfg.gpus_per_task:
        raise InvalidInputError(f"--gpus-per-task {cfg.gpus_per_task}: the Ray cluster has {res.get('GPU', 0):g} GPUs",
                                field="--gpus-per-task")
    want = cfg.workers or n_cpu
    if want > n_cpu:
        log.warning("%d workers asked for, the Ray cluster has %d CPUs: using %d", want, n_cpu, n_cpu)
        want = n_cpu
    n_gpu_items = sum(1 for it in todo if gpu_tasks and it.spec.uses_gpu)
    n_gpu = max(1, min(want, int(res.get("GPU", 0) / cfg.gpus_per_task), n_gpu_items)) if n_gpu_items else 0
    n_cpu_actors = max(1, min(max(want - n_gpu, 1), len(todo) - n_gpu_items)) if len(todo) > n_gpu_items else 0
    warmups = sorted({it.spec.warmup for it in todo if it.spec.warmup})
    key = (n_gpu, n_cpu_actors, cfg.gpus_per_task, cfg.memory_limit_mb, tuple(warmups))
    if keep and key in _POOLS:
        return _POOLS[key]
    for old in list(_POOLS):  # other actors would hold the CPUs the new ones need
        for a in (a for p in _POOLS.pop(old).values() for a in p):
            ray.kill(a)
    env = {"OMP_NUM_THREADS": "1", "ARTICULATE_PROGRESS": "0"}
    Actor = ray.remote(BatchWorker).options(max_restarts=-1, max_task_retries=0, num_cpus=1)
    pools: dict[str, list] = {}
    if n_gpu:
        pools["gpu"] = [Actor.options(num_gpus=cfg.gpus_per_task).remote(cfg.memory_limit_mb, env, warmups)
                        for _ in range(n_gpu)]
    if n_cpu_actors:
        pools["cpu"] = [Actor.remote(cfg.memory_limit_mb, env, warmups) for _ in range(n_cpu_actors)]
    if keep:
        _POOLS[key] = pools
    return pools


def _crash_message(e: BaseException, attempts: int) -> tuple[str, str]:
    text = str(e)
    if "OutOfMemory" in type(e).__name__ or "memory" in text.lower() and "killed" in text.lower():
        return "out_of_memory", f"the worker was killed for using too much memory ({attempts} attempt(s))"
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return "worker_died", (f"the worker process died while processing this asset ({attempts} attempt(s); abort, "
                           f"segfault in a native library, or killed): {type(e).__name__}: {first[:300]}")


def run_batch(input_dir, out_dir, cfg: BatchConfig | None = None, *, progress: Progress | None = None) -> dict:
    """Run ``cfg.task`` on every file of ``input_dir``; outputs, manifest and report go to ``out_dir``.

    Returns the summary (counts per status, this run's processed/skipped numbers, seconds, assets/min,
    report and manifest paths). A failing asset never stops the batch. ``progress(fraction, message)`` is
    called as assets finish; an exception raised from it cancels the batch (finished work stays recorded).
    """
    cfg = cfg or BatchConfig()
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    if not input_dir.is_dir():
        raise InvalidInputError(f"input folder {input_dir} does not exist or is not a folder", field="INPUT_DIR")
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    manifest = Manifest.load(out_dir)
    todo, decided, counts = plan(input_dir, out_dir, cfg, manifest)
    present = set(decided) | {it.rel for it in todo}
    manifest.entries = {k: v for k, v in manifest.entries.items() if k in present}  # files gone from the folder
    manifest.entries.update(decided)
    for it in todo:  # shown as pending until they finish (a cancelled batch leaves them so; a rerun runs them)
        manifest.entries.setdefault(it.rel, {**it.entry, "status": "pending", "outputs": {}, "timings": {}})
    summary = {"run_id": uuid.uuid4().hex[:12], "input_dir": str(input_dir.resolve()), "out_dir": str(out_dir.resolve()), "task": cfg.task,
               "total": len(present), "to_run": len(todo), "skipped": counts["cached"], "processed": 0,
               "startup_s": 0.0, "run_s": 0.0}
    bar = _Bar(len(present), len(present) - len(todo), cfg.progress_bar and bool(todo), progress)
    started_ray = False
    ray = None
    pools: dict[str, list] = {}
    try:
        if todo:
            ray = import_ray()
            t0 = time.perf_counter()
            started_ray = _connect(ray, cfg, len(todo))
            keep = not (started_ray and cfg.shutdown_ray)
            pools = _pools(ray, cfg, todo, keep)
            actors = [a for p in pools.values() for a in p]
            info = _wait_ready(ray, actors)
            summary["startup_s"] = round(time.perf_counter() - t0, 3)
            summary["workers"] = {k: len(v) for k, v in pools.items()}
            summary["worker_warm_s"] = [round(i["warm_s"], 3) for i in info]
            summary["worker_rss_mb_idle"] = [round(i["rss_mb"], 1) for i in info]
            t_run = time.perf_counter()
            bar.start()
            _dispatch(ray, cfg, todo, pools, out_dir, manifest, bar, summary)
            summary["run_s"] = round(time.perf_counter() - t_run, 3)
    finally:
        bar.close()
        if ray is not None and started_ray and cfg.shutdown_ray:
            _POOLS.clear()
            ray.shutdown()
        shutil.rmtree(out_dir / STAGING_DIR, ignore_errors=True)
        _fill_duplicates(manifest)
        by = {}
        for e in manifest.entries.values():
            by[e["status"]] = by.get(e["status"], 0) + 1
        summary["status"] = dict(sorted(by.items()))
        summary["wall_s"] = round(time.perf_counter() - t_start, 3)
        summary["throughput_per_min"] = round(60 * summary["processed"] / summary["run_s"], 2) if summary["run_s"] else None
        if summary["processed"]:
            summary["last_processing_run"] = {k: summary.get(k) for k in (
                "run_id", "processed", "run_s", "startup_s", "throughput_per_min", "workers")}
            summary["last_processing_run"]["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        else:
            summary["last_processing_run"] = (manifest.meta.get("summary") or {}).get("last_processing_run")
        summary["manifest"] = str(manifest.snapshot({"summary": summary, "task": cfg.task, "options": cfg.options}))
    if cfg.report:
        from .report import write_report
        summary["report"] = str(write_report(out_dir, manifest.entries, summary))
    return summary


def _fill_duplicates(manifest: Manifest) -> None:
    for e in manifest.entries.values():
        if e["status"] == "duplicate":
            orig = manifest.entries.get(e["duplicate_of"], {})
            e["original_status"] = orig.get("status")
            e["original_out_dir"] = orig.get("out_dir")


def _wait_ready(ray, actors, timeout_s: float = 600.0) -> list[dict]:
    """``ready()`` of every actor, waiting out restarts (a reused actor may still be coming back from a crash)."""
    from ray.exceptions import ActorUnavailableError
    out, t0 = [], time.perf_counter()
    for a in actors:
        while True:
            try:
                out.append(ray.get(a.ready.remote()))
                break
            except ActorUnavailableError:
                if time.perf_counter() - t0 > timeout_s:
                    raise
                time.sleep(0.5)
    return out


def _dispatch(ray, cfg: BatchConfig, todo: list[_Item], pools: dict[str, list], out_dir: Path, manifest: Manifest,
              bar: _Bar, summary: dict) -> None:
    """One call in flight per actor. A call whose actor dies fails alone; the actor is probed with ``ready()``
    until Ray has restarted it, and only then gets work again (so a retry really runs)."""
    from ray.exceptions import RayActorError, RayError
    queues = {k: deque() for k in pools}
    for it in todo:
        queues["gpu" if "gpu" in pools and it.spec.uses_gpu else "cpu"].append(it)
    idle = {k: deque(v) for k, v in pools.items()}
    running: dict = {}   # ref -> (pool, actor, item)
    probing: dict = {}   # ref -> (pool, actor, time of the probe)
    staging_root = str((out_dir / STAGING_DIR).resolve())

    def submit():
        for k in pools:
            while idle[k] and queues[k]:
                actor, it = idle[k].popleft(), queues[k].popleft()
                it.attempts += 1
                it.submitted = time.perf_counter()
                ref = actor.run.remote(it.spec, str(it.path.resolve()), str((out_dir / it.entry["out_dir"]).resolve()),
                                       staging_root, it.options)
                running[ref] = (k, actor, it)
        if bar.running != len(running):
            bar.running = len(running)
            bar.update(0)

    def probe(k, actor):
        probing[actor.ready.remote()] = (k, actor, time.perf_counter())

    def finish(it: _Item, res: dict):
        wall = time.perf_counter() - it.submitted
        timings = dict(res.get("timings", {}))
        timings["wall"] = round(wall, 4)
        if "task" in timings:
            timings["overhead"] = round(max(wall - timings["task"], 0.0), 4)
        now = time.time()
        entry = {**it.entry, **res, "timings": timings, "attempts": it.attempts, "run_id": summary["run_id"],
                 "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"}
        manifest.record(entry)
        summary["processed"] += 1
        bar.running = len(running)
        if entry["status"] == "done":
            bar.done += 1
        else:
            bar.failed += 1
        bar.update(1, f"{it.rel}: {entry['status']}")

    submit()
    while running or probing:
        if cfg.task_timeout_s:
            now = time.perf_counter()
            for ref, (k, actor, it) in running.items():
                if not it.timed_out and now - it.submitted > cfg.task_timeout_s:
                    it.timed_out = True
                    ray.kill(actor, no_restart=False)  # the call fails with RayActorError; the actor restarts
        ready, rest = ray.wait(list(running) + list(probing), num_returns=1, timeout=0.5)
        if ready and rest:  # take every call that finished meanwhile in one pass (many workers, short tasks)
            ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        for ref in ready:
            if ref in probing:
                k, actor, t_probe = probing.pop(ref)
                try:
                    ray.get(ref)
                    idle[k].append(actor)
                except RayActorError:  # still restarting: ask again shortly
                    time.sleep(max(0.0, 0.5 - (time.perf_counter() - t_probe)))
                    probe(k, actor)
                continue
            k, actor, it = running.pop(ref)
            try:
                res = ray.get(ref)
                idle[k].append(actor)
            except RayActorError as e:
                probe(k, actor)
                if it.timed_out:
                    res = {"status": "failed", "error_kind": "timeout", "outputs": {},
                           "error": f"timed out after {cfg.task_timeout_s:g} s (worker killed)"}
                elif it.attempts <= cfg.max_retries:
                    log.warning("%s: worker died (%s); retrying", it.rel, type(e).__name__)
                    queues[k].appendleft(it)
                    continue
                else:
                    kind, msg = _crash_message(e, it.attempts)
                    res = {"status": "failed", "error_kind": kind, "error": msg, "outputs": {}}
            except RayError as e:  # an error in Ray itself (serialization, ...): this asset only
                idle[k].append(actor)
                res = {"status": "failed", "error_kind": "ray", "error": f"{type(e).__name__}: {str(e)[:1000]}",
                       "outputs": {}}
            finish(it, res)
        submit()
