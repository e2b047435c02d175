"""The tasks a batch can run: a small registry ``name -> TaskSpec`` whose callable is
``fn(asset_path: Path, out_dir: Path, options: dict) -> outcome dict``.

A task writes its files into ``out_dir`` (a private staging folder the scheduler moves into place when the task
returns) and returns::

    {"outputs": {"rig": "rig.usda", "preview": "preview.png", "validation": "validation.json"},  # names in out_dir
     "stats": {"bones": 7, "vertices": 538, ...},      # numbers shown in the report
     "findings": [{"validator": "openusd", "severity": "issue", "message": "..."}]}

Timings are recorded by wrapping work in ``with stage("load"): ...``: the scheduler adds them to the outcome and,
when a task raises inside the ``load`` stage, records the asset as *invalid* (the file could not be read: the same
bytes will fail the same way, so a rerun does not retry it) instead of *failed*.

Specs name their callable as ``"module:function"`` so it is imported inside the worker process: a task whose
module is not installed in this checkout (``mesh-cache`` before the 4D-cache work is merged) is reported as
*unavailable* with the module's name, never a crash. ``register_task`` adds more (the test suite registers tasks
that abort, segfault or exhaust memory on purpose).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import InvalidInputError
from ..rigging.methods import DEFAULT_METHOD

MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".ply", ".usd", ".usda", ".usdc", ".usdz")
MOTION_SUFFIXES = (".npz", ".npy", ".glb", ".gltf", ".usd", ".usda", ".usdc")
PROP_SUFFIXES = MESH_SUFFIXES + (".urdf", ".xml", ".mjcf")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    target: str                              # "module:function", imported in the worker
    suffixes: tuple[str, ...]                # input file types it accepts
    defaults: dict[str, Any] = field(default_factory=dict)  # the options it reads (only these enter its options hash)
    requires: tuple[str, ...] = ()           # modules that must be importable, else the task is *unavailable*
    version: str = "1"                       # bump when its outputs change: every asset it ran on is redone
    uses_gpu: bool = False                   # gets --gpus-per-task of a GPU when one is asked for
    warmup: str | None = "sdk.batch.tasks:warm_up"  # "module:function" a worker runs once before its first asset
    cost: float = 1.0                        # relative time per asset: costly tasks are dispatched first (ours)
    help: str = ""

    def missing(self) -> str | None:
        """The first required module that cannot be imported here, or None."""
        for mod in (self.target.split(":")[0],) + self.requires:
            if not module_available(mod):
                return mod
        return None

    def resolve(self) -> Callable[[Path, Path, dict], dict]:
        mod, fn = self.target.split(":")
        return getattr(importlib.import_module(mod), fn)

    def options_for(self, options: dict) -> dict:
        """This task's options: its defaults overridden by the given ones it reads; ``TASK.NAME`` (``rig.method``)
        sets an option for one task only, a plain ``NAME`` for every task that reads it."""
        return {k: options.get(f"{self.name}.{k}", options.get(k, v)) for k, v in sorted(self.defaults.items())}


TASKS: dict[str, TaskSpec] = {}


def module_available(mod: str) -> bool:
    """``mod`` can be imported *from the package it belongs to*: a submodule found by another import hook in a
    different checkout (an editable install of another tree on the same interpreter) does not count."""
    try:
        spec = importlib.util.find_spec(mod)
    except (ModuleNotFoundError, ValueError):  # a parent package is absent
        return False
    if spec is None:
        return False
    parent_name = mod.rpartition(".")[0]
    if not parent_name:
        return True
    roots = [os.path.realpath(p) for p in importlib.import_module(parent_name).__path__]
    where = spec.origin if spec.origin not in (None, "namespace") else next(iter(spec.submodule_search_locations or []), None)
    return where is None or any(os.path.realpath(where).startswith(r + os.sep) for r in roots)


def register_task(spec: TaskSpec) -> TaskSpec:
    TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise InvalidInputError(f"unknown batch task '{name}' (choose one of {', '.join(sorted(TASKS))} or auto)",
                                field="--task")
    return TASKS[name]


# --------------------------------------------------------------------------------------------- stage timings
_STAGES: dict[str, float] = {}
_CURRENT: list[str] = []
_FAILED: list[str] = []  # the innermost stage an exception left


@contextlib.contextmanager
def stage(name: str):
    """Time a step of a task (``load``, ``compute``, ``export``, ``validate``, ``preview``)."""
    _CURRENT.append(name)
    t0 = time.perf_counter()
    try:
        yield
    except BaseException:
        if not _FAILED:
            _FAILED.append(name)
        raise
    finally:
        _STAGES[name] = _STAGES.get(name, 0.0) + time.perf_counter() - t0
        _CURRENT.pop()


def begin_stages() -> None:
    _STAGES.clear()
    _CURRENT.clear()
    _FAILED.clear()


def stage_report() -> tuple[dict[str, float], str | None]:
    """(seconds per stage so far, the stage an exception was raised in, or None)."""
    return dict(_STAGES), (_FAILED[0] if _FAILED else None)


# --------------------------------------------------------------------------------------------- per-worker state
_RESOURCES: dict[str, Any] = {}


def worker_resource(key: str, factory: Callable[[], Any]):
    """A heavy object built once per worker process (the batch actor keeps its process alive across assets)."""
    if key not in _RESOURCES:
        _RESOURCES[key] = factory()
    return _RESOURCES[key]


def warm_up() -> None:
    """Imports every built-in task needs, done once when a worker starts (not inside the first asset's time)."""
    import numpy  # noqa: F401
    import torch  # noqa: F401

    from .. import articulator  # noqa: F401
    with contextlib.suppress(ImportError):
        from exporters._pxr import pxr
        pxr("Usd", "UsdValidation")
    worker_resource("articulator", _articulator)


def _articulator():
    from ..articulator import Articulator
    return Articulator()


# --------------------------------------------------------------------------------------------- validation
#: validators run on output files: name -> fn(path, role, options) -> list of findings
#: ({validator, severity, message[, code, fix]}); the engine validation report (``sdk.validation``) is one of
#: them when that package is installed
VALIDATORS: dict[str, Callable[[Path, str, dict], list[dict]]] = {}


def _openusd(path: Path, role: str, options: dict) -> list[dict]:
    if path.suffix.lower() not in (".usd", ".usda", ".usdc", ".usdz"):
        return []
    from exporters.validate import validate_usd
    return [{"validator": "openusd", "severity": "issue", "message": m} for m in validate_usd(path)]


def _physics(path: Path, role: str, options: dict) -> list[dict]:
    if path.suffix.lower() not in (".usd", ".usda", ".usdc") or role != "joints":
        return []
    from exporters.physics_usd import validate_physics_usd
    return [{"validator": "physics", "severity": "issue", "message": m} for m in validate_physics_usd(path)]


def _engine(path: Path, role: str, options: dict) -> list[dict]:
    """The engine validation report (``sdk.validation.validate_file``) of an exported rig, for
    ``validate_target`` (default: omniverse for USD, gltf for glTF); skipped where the package is absent."""
    if role != "rig" or not module_available("sdk.validation"):
        return []
    from ..validation import validate_file
    target = options.get("validate_target") or ("gltf" if path.suffix.lower() in (".glb", ".gltf") else "omniverse")
    rep = validate_file(path, target)
    return [{"validator": f"engine:{target}", "severity": f.severity, "code": f.code, "message": f.message,
             "fix": f.fix} for f in rep.findings if f.severity in ("error", "warning")]


VALIDATORS["openusd"] = _openusd
VALIDATORS["physics"] = _physics
VALIDATORS["engine"] = _engine


def validate_outputs(out_dir: Path, outputs: dict[str, str], roles=("rig", "joints", "cache"),
                     options: dict | None = None) -> list[dict]:
    """Run every validator on the main outputs; write ``validation.json`` and add it to ``outputs``."""
    findings: list[dict] = []
    with stage("validate"):
        for role in roles:
            if role in outputs:
                for name, fn in VALIDATORS.items():
                    try:
                        findings += fn(out_dir / outputs[role], role, options or {})
                    except Exception as e:  # a validator that breaks is a finding, not a lost asset
                        findings.append({"validator": name, "severity": "error",
                                         "message": f"validator crashed: {type(e).__name__}: {e}"})
        (out_dir / "validation.json").write_text(json.dumps({"findings": findings}, indent=1, default=str))
    outputs["validation"] = "validation.json"
    return findings


# --------------------------------------------------------------------------------------------- built-in tasks
def _fmt(options: dict, allowed: tuple[str, ...]) -> str:
    f = str(options["format"]).lower().lstrip(".")
    if f not in allowed:
        raise InvalidInputError(f"format '{f}' is not one of {', '.join(allowed)}", field="format")
    return f


def _write_rig(rig, path: Path, options: dict) -> None:
    if path.suffix in (".usda", ".usdc", ".usd"):
        from exporters.usd import write_rig_usd
        write_rig_usd(rig, path, up_axis=options.get("up_axis", "Y"), meters_per_unit=options.get("meters_per_unit", 1.0))
    else:
        from exporters.gltf import write_rig_gltf
        write_rig_gltf(rig, path)


def _rig_stats(rig) -> dict:
    return {"bones": int(rig.skeleton.n_joints), "vertices": int(rig.mesh.n_vertices), "faces": int(rig.mesh.n_faces),
            "parts": int(rig.parts.n_parts) if rig.parts is not None else 0,
            "max_influences": int(rig.skin.max_influences)}


def run_rig(asset_path: Path, out_dir: Path, options: dict) -> dict:
    from ..io import load_asset
    fmt = _fmt(options, ("usda", "usdc", "glb", "gltf"))
    art = worker_resource("articulator", _articulator)
    with stage("load"):
        asset = load_asset(asset_path)
        asset.mesh.validate(source=str(asset_path))
    with stage("compute"):
        rig = art.rig(asset, method=options["method"], max_influences=int(options["max_influences"]),
                      max_bones=options["max_bones"], quantize_bits=options["quantize"])
    outputs = {"rig": f"rig.{fmt}"}
    with stage("export"):
        _write_rig(rig, out_dir / outputs["rig"], options)
    findings = validate_outputs(out_dir, outputs, options=options)
    if options["preview"]:
        from ..render.preview import render_rig_preview
        with stage("preview"):
            render_rig_preview(rig, out_dir / "preview.png", size=int(options["preview_size"]))
        outputs["preview"] = "preview.png"
    return {"outputs": outputs, "stats": _rig_stats(rig), "findings": findings}


def run_rig_from_motion(asset_path: Path, out_dir: Path, options: dict) -> dict:
    from ..motionrig.pipeline import rig_from_motion
    from ..io import load_sequence
    fmt = _fmt(options, ("usda", "usdc", "glb", "gltf"))
    with stage("load"):
        seq = load_sequence(asset_path).subsample(options["max_frames"])
    with stage("compute"):
        rig, rep = rig_from_motion(seq, max_bones=options["max_bones"], max_influences=int(options["max_influences"]),
                                   iterations=int(options["iterations"]), merge_tol=float(options["merge_tol"]),
                                   device=options["device"] or None, threads=1)
    outputs = {"rig": f"rig.{fmt}", "report": "motion_report.json"}
    with stage("export"):
        _write_rig(rig, out_dir / outputs["rig"], options)
        (out_dir / outputs["report"]).write_text(json.dumps({k: v for k, v in rep.items() if k != "parts"}, indent=1,
                                                            default=float))
    findings = validate_outputs(out_dir, outputs, options=options)
    if options["preview"]:
        from ..render.preview import render_rig_preview
        with stage("preview"):
            render_rig_preview(rig, out_dir / "preview.png", size=int(options["preview_size"]))
        outputs["preview"] = "preview.png"
    stats = _rig_stats(rig)
    stats.update(frames=int(seq.n_frames), joints=sum(1 for j in rep["joints"] if j["type"] != "root"),
                 rmse_pct=round(float(rep["rmse_pct"]), 4))
    return {"outputs": outputs, "stats": stats, "findings": findings}


def run_joints(asset_path: Path, out_dir: Path, options: dict) -> dict:
    from ..articulation.articulate import ArticulateConfig, articulate_object
    from ..io import load_asset
    fmt = _fmt(options, ("usda", "usdc", "urdf"))
    with stage("load"):
        asset = load_asset(asset_path)
        asset.mesh.validate(source=str(asset_path))
        if asset.parts is None or asset.parts.n_parts < 2:
            raise InvalidInputError("the asset has no parts: give sub-meshes, OBJ groups, USD prims or URDF links",
                                    field="parts", source=str(asset_path))
    up = options["up"] or ("z" if asset_path.suffix.lower() in (".urdf", ".xml", ".mjcf") else "y")
    with stage("compute"):
        art = articulate_object(asset, None, config=ArticulateConfig(prior=options["prior"], method=options["method"],
                                                                     up_axis=options["up"]), progress=False)
    outputs = {"joints": f"joints.{fmt}"}
    with stage("export"):
        if fmt == "urdf":
            from exporters.urdf import write_urdf
            write_urdf(art, out_dir / outputs["joints"])
        else:
            from exporters.physics_usd import write_physics_usd
            write_physics_usd(art, out_dir / outputs["joints"], up_axis=up.upper() if up != "x" else "Y")
    findings = validate_outputs(out_dir, outputs, options=options)
    if options["preview"]:
        from ..articulation.preview import write_preview
        with stage("preview"):
            write_preview(art, out_dir / "preview.png", size=int(options["preview_size"]), up=up)
        outputs["preview"] = "preview.png"
    moving = [j for j in art.joints if j.type != "fixed"]
    kinds: dict[str, int] = {}
    for j in moving:
        kinds[j.type] = kinds.get(j.type, 0) + 1
    return {"outputs": outputs, "findings": findings,
            "stats": {"joints": len(moving), "parts": int(asset.parts.n_parts), "vertices": int(asset.mesh.n_vertices),
                      "joint_types": kinds,
                      "min_confidence": round(min((float(j.confidence) for j in moving), default=0.0), 3)}}


def run_mesh_cache(asset_path: Path, out_dir: Path, options: dict) -> dict:
    from exporters.usd_cache import write_mesh_cache_usd  # the 4D mesh-cache work (exporters/usd_cache.py)

    from ..io import load_sequence
    fmt = _fmt(options, ("usdc", "usda"))
    with stage("load"):
        seq = load_sequence(asset_path).subsample(options["max_frames"])
    outputs = {"cache": f"cache.{fmt}"}
    with stage("export"):
        write_mesh_cache_usd(seq, out_dir / outputs["cache"], up_axis=options["up_axis"],
                             meters_per_unit=float(options["meters_per_unit"]))
    # the cache's points may live in a referenced layer beside it: list every file written
    for p in sorted(out_dir.rglob("*")):
        rel = p.relative_to(out_dir).as_posix()
        if p.is_file() and rel not in outputs.values():
            outputs[f"layer:{rel}"] = rel
    findings = validate_outputs(out_dir, outputs, roles=("cache",), options=options)
    if options["preview"]:
        with stage("preview"):
            _mesh_preview(seq.vertices[0], seq.faces, out_dir / "preview.png", int(options["preview_size"]))
        outputs["preview"] = "preview.png"
    return {"outputs": outputs, "findings": findings,
            "stats": {"frames": int(seq.n_frames), "vertices": int(seq.vertices.shape[1]),
                      "faces": int(len(seq.faces))}}


def _mesh_preview(vertices, faces, path: Path, size: int) -> None:
    import numpy as np
    from PIL import Image

    from ..render import orbit_cameras, render_mesh
    c = 0.5 * (vertices.min(0) + vertices.max(0))
    r = float(np.linalg.norm(vertices.max(0) - vertices.min(0))) * 0.5 or 1.0
    cam = orbit_cameras(azimuth=[0.6], elevation=[0.3], radius=2.9 * r, fov_deg=40.0, width=size,
                        target=tuple(c.tolist()))
    rgb = render_mesh(np.asarray(vertices, np.float32), np.asarray(faces), cam).rgb.numpy()[0]
    Image.fromarray((rgb * 255).astype(np.uint8)).save(path)


_PREVIEW = {"preview": True, "preview_size": 160}
_RIG_OUT = {"format": "usda", "up_axis": "Y", "meters_per_unit": 1.0,
            "validate_target": None}  # engine report target (ue5|unity|gltf|omniverse); None: by output format

register_task(TaskSpec(
    "rig", "sdk.batch.tasks:run_rig", MESH_SUFFIXES,
    {"method": DEFAULT_METHOD, "max_influences": 4, "max_bones": None, "quantize": None, **_RIG_OUT, **_PREVIEW},
    help="skeleton + skin weights for a parted mesh (sub-meshes / OBJ groups are the parts)"))
register_task(TaskSpec(
    "rig-from-motion", "sdk.batch.tasks:run_rig_from_motion", MOTION_SUFFIXES,
    {"max_bones": None, "max_influences": 4, "iterations": 8, "max_frames": None, "merge_tol": 0.01, "device": None,
     **_RIG_OUT, **_PREVIEW}, uses_gpu=True, cost=4.0,
    help="skinned, animated rig from a mesh sequence (.npz vertices [T,V,3] + faces, glTF clip, USD points)"))
register_task(TaskSpec(
    "joints", "sdk.batch.tasks:run_joints", PROP_SUFFIXES,
    {"method": "atop_search", "prior": "physics", "up": None, "format": "usda", **_PREVIEW}, cost=10.0,
    help="joints of every movable part of a prop (ATOP search + physics prior) as UsdPhysics USD or URDF"))
register_task(TaskSpec(
    "mesh-cache", "sdk.batch.tasks:run_mesh_cache", (".npz", ".glb", ".gltf", ".usd", ".usda", ".usdc"),
    {"format": "usdc", "max_frames": None, "up_axis": "Y", "meters_per_unit": 1.0, **_PREVIEW},
    requires=("exporters.usd_cache",), cost=2.0,
    help="4D mesh cache (USD time-sampled points) of a mesh sequence"))


# --------------------------------------------------------------------------------------------- auto
#: part names that mark a prop with moving parts (``--task auto`` sends it to ``joints``); a value of this
#: project, not from a paper
PROP_PART_WORDS = ("door", "drawer", "lid", "blade", "hinge", "wheel", "knob", "flap", "cover", "handle", "button",
                   "hatch", "shutter", "valve", "trigger", "switch")


def _obj_groups(path: Path, limit_bytes: int = 4 << 20) -> list[str]:
    names = []
    with open(path, "rb") as fh:
        for line in fh.read(limit_bytes).splitlines():
            if line[:2] in (b"g ", b"o "):
                names.append(line[2:].strip().decode("utf-8", "replace"))
    return names


def _gltf_json(path: Path) -> dict:
    import struct
    data = path.read_bytes()
    if path.suffix.lower() == ".glb":
        if len(data) < 20 or data[:4] != b"glTF":
            return {}
        n = struct.unpack_from("<I", data, 12)[0]
        data = data[20:20 + n]
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}


def classify(path: Path) -> str:
    """``--task auto``: the task an asset gets, from cheap looks at the file (no full load).

    .npz/.npy and glTF files with an animation -> rig-from-motion; URDF/MJCF, and meshes whose part names name
    moving prop parts (``PROP_PART_WORDS``: door, drawer, lid, ...) -> joints; other meshes -> rig.
    """
    ext = path.suffix.lower()
    if ext in (".npz", ".npy"):
        return "rig-from-motion"
    if ext in (".urdf", ".xml", ".mjcf"):
        return "joints"
    names: list[str] = []
    try:
        if ext == ".obj":
            names = _obj_groups(path)
        elif ext in (".glb", ".gltf"):
            doc = _gltf_json(path)
            if doc.get("animations"):
                return "rig-from-motion"
            names = [n.get("name", "") for n in doc.get("nodes", [])]
    except OSError:
        return "rig"
    low = [n.lower() for n in names]
    if any(w in n for n in low for w in PROP_PART_WORDS):
        return "joints"
    return "rig"
