"""The gRPC server's door to the batch backend: ``SubmitJob(generic={task: "batch", params: {...}})``.

``articulate serve --ray-address auto --batch-root /studio/libraries`` calls :func:`configure`; the server's
generic-task planner calls :func:`config_from_params` on the handler thread (every problem is an
``InvalidInputError`` naming the field, so the client gets ``INVALID_ARGUMENT``) and :func:`submit_batch` on its job
thread, with the job's progress callback (which raises when the client cancels: the batch stops, finished assets
stay recorded in the manifest and a later job resumes them).

Folders are paths *on the server* (a studio share every Ray node mounts); they must lie under one of the roots
given with ``--batch-root``, so a client cannot make the server read or write anywhere else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import InvalidInputError
from .scheduler import BatchConfig, run_batch
from .tasks import TASKS


@dataclass
class ServerBatchSettings:
    ray_address: str | None = None                   # None: a local Ray on the server machine
    roots: list[Path] = field(default_factory=list)  # folders batch jobs may read and write under; empty: refused
    workers: int | None = None


SETTINGS = ServerBatchSettings()


def configure(ray_address: str | None = None, roots=(), workers: int | None = None) -> ServerBatchSettings:
    SETTINGS.ray_address = ray_address
    SETTINGS.roots = [Path(r).resolve() for r in roots]
    SETTINGS.workers = workers
    return SETTINGS


def _inside_roots(p: Path, name: str) -> Path:
    p = p.resolve()
    if not SETTINGS.roots:
        raise InvalidInputError("this server takes no batch jobs: start it with --batch-root DIR (folders batch jobs "
                                "may use)", field=name)
    if not any(p == r or r in p.parents for r in SETTINGS.roots):
        raise InvalidInputError(f"{p} is outside the server's batch roots ({', '.join(map(str, SETTINGS.roots))})",
                                field=name)
    return p


def config_from_params(params: dict) -> tuple[Path, Path, BatchConfig]:
    """Validate a SubmitJob batch's params: input_dir, out_dir, task (default auto), options {name: value},
    retry_invalid, force."""
    allowed = {"input_dir", "out_dir", "task", "options", "retry_invalid", "force", "workers"}
    extra = sorted(set(params) - allowed)
    if extra:
        raise InvalidInputError(f"unknown batch parameter '{extra[0]}' (use {', '.join(sorted(allowed))})",
                                field=f"params.{extra[0]}")
    for k in ("input_dir", "out_dir"):
        if not isinstance(params.get(k), str) or not params[k]:
            raise InvalidInputError(f"batch needs '{k}' (a folder on the server)", field=f"params.{k}")
    inp = _inside_roots(Path(params["input_dir"]), "params.input_dir")
    out = _inside_roots(Path(params["out_dir"]), "params.out_dir")
    if not inp.is_dir():
        raise InvalidInputError(f"input folder {inp} does not exist on the server", field="params.input_dir")
    task = params.get("task") or "auto"
    if task != "auto" and task not in TASKS:
        raise InvalidInputError(f"unknown batch task '{task}' (use auto or {', '.join(sorted(TASKS))})",
                                field="params.task")
    options = params.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidInputError("options must be an object {name: value}", field="params.options")
    # protobuf Struct numbers arrive as floats: integral ones become ints (max_influences=4.0 -> 4)
    options = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in options.items()}
    workers = params.get("workers")
    cfg = BatchConfig(task=task, options=options, ray_address=SETTINGS.ray_address,
                      workers=int(workers) if workers else SETTINGS.workers,
                      retry_invalid=bool(params.get("retry_invalid", False)), force=bool(params.get("force", False)),
                      progress_bar=False, shutdown_ray=False)
    return inp, out, cfg


def submit_batch(input_dir, out_dir, task: str = "auto", options: dict | None = None,
                 progress: Callable[[float, str], None] | None = None, **config) -> dict:
    """Run a batch on the configured Ray backend (the server's ``--ray-address``) and return its summary."""
    config.setdefault("ray_address", SETTINGS.ray_address)
    config.setdefault("progress_bar", False)
    config.setdefault("shutdown_ray", False)
    cfg = BatchConfig(task=task, options=dict(options or {}), **config)
    return run_batch(input_dir, out_dir, cfg, progress=progress)
