"""Test-only batch tasks that misbehave on purpose (imported inside Ray workers by name).

``chaos``: by the asset's file name: ``*abort*`` calls os.abort(), ``*segv*`` reads address 0 through ctypes
(a segfault in native code), ``*oom*`` allocates past the per-task memory limit, ``*raise*`` raises, anything
else writes a small output and succeeds.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

from sdk.batch.tasks import TaskSpec, register_task, stage


def chaos(asset_path: Path, out_dir: Path, options: dict) -> dict:
    name = asset_path.name
    with stage("load"):
        data = asset_path.read_bytes()
    with stage("compute"):
        if "abort" in name:
            os.abort()
        if "segv" in name:
            ctypes.string_at(0)
        if "oom" in name:
            big = np.ones((int(options["alloc_mb"]) << 20) // 8)  # float64: alloc_mb MiB
            return {"outputs": {}, "stats": {"allocated": float(big.sum())}}
        if "raise" in name:
            raise RuntimeError(f"chaos task raised on {name}")
    (out_dir / "echo.txt").write_bytes(data[:64])
    return {"outputs": {"echo": "echo.txt"}, "stats": {"bytes": len(data)}}


def register() -> TaskSpec:
    return register_task(TaskSpec("chaos", "tests.batch.chaos_tasks:chaos", (".bin",), {"alloc_mb": 1024},
                                  warmup=None, help="test-only: aborts, segfaults, exhausts memory or raises"))


def register_absent() -> TaskSpec:
    return register_task(TaskSpec("absent", "no_such_module_for_batch_tests:run", (".bin",), {}, warmup=None))
