"""``articulate.services.v1.ArticulateService`` on top of :class:`sdk.Articulator` (grpc.aio).

Each heavy RPC is split in two: a *plan* step that decodes and validates the request on a small
thread pool (cheap; every problem becomes ``INVALID_ARGUMENT`` naming the field; the size of the
result is estimated here, so a result too big for one message is sent in chunks and one too big to
send at all is refused before any work) and returns a job function, and the job itself, run on the
bounded :class:`~sdk.server.jobs.JobQueue` (in a worker process by default).

Handlers are coroutines: an open stream costs no thread, so idle streams cannot starve the
server. Admission is explicit: ``max_calls`` service calls in flight, ``max_calls_per_token`` per
bearer token, every client stream ends after ``idle_timeout_s`` without a message, a reader that
stops reading for ``write_timeout_s`` loses its call, and uploads are written to disk as they
arrive under a global byte budget.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import tempfile
import threading
import time
import uuid
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import grpc
import numpy as np

from .. import wire as convert
from ..errors import AssetReadError, InvalidInputError
from ..io import formats
from ..rigging.budget import check_budget
from .gen.articulate.rig.v1 import rig_pb2 as pb
from .gen.articulate.services.v1 import articulate_service_pb2 as spb
from .gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc
from .jobs import Job, JobQueue, QueueClosed, QueueFull, ResultTooLarge, trim_memory

log = logging.getLogger("sdk.server")

SERVICE_NAME = spb.DESCRIPTOR.services_by_name["ArticulateService"].full_name
API_VERSION = "articulate.services.v1"
MESH_CONTENT_TYPE = "application/x-protobuf; message=articulate.rig.v1.Mesh"
MOTION_CONTENT_TYPE = "application/x-protobuf; message=articulate.rig.v1.MotionSequence"
MOTION_SUFFIXES = formats.suffixes("sequence", upload=True)
#: extra upload suffixes generic tasks read (e.g. ".mp4" for video tasks); registered with GENERIC_TASKS
GENERIC_UPLOAD_SUFFIXES: set[str] = set()
ASSET_SUFFIXES = formats.suffixes("asset", upload=True)
FIELD_METADATA_KEY = "articulate-field"
#: protobuf refuses to parse messages of 2 GiB or more, chunked or not
MAX_RESULT_BYTES = (2 << 30) - (1 << 20)
_CODES = {c.value[0]: c for c in grpc.StatusCode}

_EXPORT = {
    spb.EXPORT_FORMAT_USDA: ("usda", "model/vnd.usda"),
    spb.EXPORT_FORMAT_USDC: ("usdc", "model/vnd.usd"),
    spb.EXPORT_FORMAT_GLB: ("glb", "model/gltf-binary"),
    spb.EXPORT_FORMAT_URDF: ("urdf", "application/xml"),
    spb.EXPORT_FORMAT_USDZ: ("usdz", "model/vnd.usdz+zip"),
}
_RIG_FORMATS = (spb.EXPORT_FORMAT_USDA, spb.EXPORT_FORMAT_USDC, spb.EXPORT_FORMAT_GLB, spb.EXPORT_FORMAT_USDZ)
_ARTICULATION_FORMATS = (spb.EXPORT_FORMAT_USDA, spb.EXPORT_FORMAT_USDC, spb.EXPORT_FORMAT_URDF)


@dataclass
class ServiceConfig:
    workers: int = 1                    # heavy jobs run at once
    queue_capacity: int = 64            # jobs waiting beyond the running ones (RESOURCE_EXHAUSTED past it)
    max_receive_bytes: int = 64 << 20   # gRPC message limits (both directions)
    max_send_bytes: int = 64 << 20
    chunk_bytes: int = 1 << 20          # blob/result chunk size in event streams
    max_upload_bytes: int = 1 << 30     # per upload
    upload_store_bytes: int = 2 << 30   # all uploads at once, finished and still arriving
    upload_ttl_s: float = 600.0         # an upload an RPC can use
    unusable_upload_ttl_s: float = 60.0  # an upload no RPC of this server reads (unknown type)
    upload_dir: str | None = None       # where uploads are written (default: a fresh temp dir)
    idle_timeout_s: float = 30.0        # a client stream (Upload, reflection) silent this long is ended
    write_timeout_s: float = 60.0       # a client that reads nothing this long loses its stream
    max_call_s: float = 6 * 3600.0      # any streaming call ends after this (server-side deadline)
    max_calls: int = 512                # service calls in flight at once (health/reflection counted apart)
    max_calls_per_token: int = 128      # ... per bearer token (when auth is on)
    plan_threads: int = 4               # threads decoding/validating requests
    isolation: str = "process"          # jobs in worker processes ("thread": on the queue's threads)
    auth_required: bool = False
    tls: bool = False


# ---------------------------------------------------------------------------------- uploads

@dataclass
class Upload:
    id: str
    filename: str
    content_type: str
    path: Path
    size: int
    sha256: str
    expires: float

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def upload_usable(filename: str, content_type: str) -> bool:
    """Whether some RPC of this server can read an upload of this name/type."""
    if content_type.startswith("application/x-protobuf") and content_type in (MESH_CONTENT_TYPE, MOTION_CONTENT_TYPE):
        return True
    suffix = Path(filename).suffix.lower()
    return suffix in ASSET_SUFFIXES or suffix in MOTION_SUFFIXES or suffix in GENERIC_UPLOAD_SUFFIXES


class UploadFull(QueueFull):
    pass


class UploadStore:
    """Uploads written to disk as they arrive; finished and in-flight bytes share one budget; TTLs; delete."""

    def __init__(self, max_bytes: int, ttl_s: float, unusable_ttl_s: float = 60.0, directory: str | None = None):
        self.max_bytes, self.ttl_s, self.unusable_ttl_s = max_bytes, ttl_s, unusable_ttl_s
        self._own_dir = directory is None
        self.dir = Path(directory or tempfile.mkdtemp(prefix="articulate-uploads-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self._items: dict[str, Upload] = {}
        self._reserved = 0  # bytes held by uploads still arriving
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        with self._lock:
            return self._reserved + sum(u.size for u in self._items.values())

    def _expire(self) -> None:  # with the lock held
        now = time.monotonic()
        for k in [k for k, u in self._items.items() if u.expires < now]:
            self._remove(k)

    def _remove(self, k: str) -> int:
        u = self._items.pop(k)
        u.path.unlink(missing_ok=True)
        return u.size

    def sweep(self) -> None:
        with self._lock:
            self._expire()

    def reserve(self, n: int) -> None:
        with self._lock:
            if n <= 0:
                return
            self._expire()
            used = self._reserved + sum(u.size for u in self._items.values())
            if used + n > self.max_bytes:
                raise UploadFull(f"upload store is full ({used} of {self.max_bytes} bytes held or arriving); "
                                 f"retry later or delete unused uploads (DeleteUpload)")
            self._reserved += n

    def release(self, n: int) -> None:
        with self._lock:
            self._reserved = max(0, self._reserved - n)

    def new_path(self, filename: str) -> tuple[str, Path]:
        uid = uuid.uuid4().hex
        suffix = Path(filename).suffix.lower()
        if not (suffix[1:].isalnum() and len(suffix) <= 8):
            suffix = ".bin"
        return uid, self.dir / f"{uid}{suffix}"

    def commit(self, uid: str, path: Path, filename: str, content_type: str, size: int, sha256: str,
               reserved: int) -> Upload:
        """Turn an arrived upload (its reservation of ``reserved`` bytes) into a stored one."""
        ttl = self.ttl_s if upload_usable(filename, content_type) else min(self.ttl_s, self.unusable_ttl_s)
        u = Upload(uid, filename, content_type, path, size, sha256, time.monotonic() + ttl)
        with self._lock:
            self._reserved = max(0, self._reserved - reserved)
            self._items[uid] = u
        return u

    def get(self, upload_id: str, field: str) -> Upload:
        with self._lock:
            self._expire()
            u = self._items.get(upload_id)
        if u is None:
            raise InvalidInputError(f"unknown or expired upload id '{upload_id[:64]}'", field=field)
        return u

    def delete(self, upload_id: str) -> int | None:
        with self._lock:
            if upload_id not in self._items:
                return None
            return self._remove(upload_id)

    def close(self) -> None:
        with self._lock:
            for k in list(self._items):
                self._remove(k)
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def _scrub(text: str, u: Upload) -> str:
    """An error message about an upload, without the server's file system paths."""
    for p in (str(u.path), str(u.path.parent), u.path.name):
        text = text.replace(p, f"upload '{u.filename}'" if p != str(u.path.parent) else "")
    return text


# ---------------------------------------------------------------------------------- plans

@dataclass
class Plan:
    """A validated request: the job function and what it needs."""
    kind: str
    run: Callable[[Job], None]
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    result_bytes: int = 0        # estimated size of the structured result (decided at plan time)
    chunked: bool = False        # the result goes out as result_header + result_chunk events
    in_server: bool = False      # run on the queue's threads even under process isolation (a job that only
    #                              orchestrates work elsewhere, e.g. a batch on Ray, and reads the server's settings)


def _asset_from_upload(u: Upload, field: str):
    """Read an uploaded asset file (by its extension) into an Asset."""
    from ..io import load_asset
    suffix = Path(u.filename).suffix.lower()
    if suffix not in ASSET_SUFFIXES:
        raise InvalidInputError(f"upload '{u.filename}' has unsupported extension '{suffix}' "
                                f"(use one of {', '.join(ASSET_SUFFIXES)})", field=field)
    if u.path.suffix.lower() != suffix:
        raise InvalidInputError(f"upload '{u.filename}' is stored without its extension", field=field)
    try:
        return load_asset(u.path)
    except AssetReadError as e:
        raise InvalidInputError(_scrub(f"cannot read uploaded '{u.filename}': {e}", u), field=field) from None
    except InvalidInputError as e:
        raise InvalidInputError(_scrub(str(e), u), field=f"{field}({e.field})" if e.field else field) from None
    except Exception as e:  # noqa: BLE001 - any reader failure on client bytes is the client's input
        raise InvalidInputError(_scrub(f"cannot read uploaded '{u.filename}': {type(e).__name__}: {e}", u),
                                field=field) from None


def resolve_mesh_input(inp: spb.MeshInput, uploads: UploadStore | None, field: str = "input"):
    """MeshInput -> Asset (mesh validated; parts/rig when the uploaded file carries them)."""
    from ..io import Asset
    kind = inp.WhichOneof("source")
    if kind is None:
        raise InvalidInputError("no mesh given (set input.mesh or input.upload_id)", field=field)
    if kind == "mesh":
        return Asset(None, convert.mesh_from_proto(inp.mesh, f"{field}.mesh"))
    if uploads is None:
        raise InvalidInputError("uploads are not available here", field=f"{field}.upload_id")
    u = uploads.get(inp.upload_id, f"{field}.upload_id")
    if u.content_type.startswith("application/x-protobuf"):
        try:
            m = pb.Mesh.FromString(u.data)
        except Exception:  # noqa: BLE001 - protobuf DecodeError
            raise InvalidInputError("uploaded data is not a valid articulate.rig.v1.Mesh message",
                                    field=f"{field}.upload_id") from None
        return Asset(None, convert.mesh_from_proto(m, f"{field}.upload_id(mesh)"))
    asset = _asset_from_upload(u, f"{field}.upload_id")
    convert.check_mesh(asset.mesh, f"{field}.upload_id(mesh)")
    return asset


def mesh_field(inp: spb.MeshInput, field: str = "input") -> str:
    return f"{field}.mesh" if inp.WhichOneof("source") == "mesh" else f"{field}.upload_id(mesh)"


def resolve_parts(req, asset, field: str = "parts"):
    src = req.part_source
    V = asset.mesh.n_vertices
    if src == spb.PART_SOURCE_INLINE or (src == spb.PART_SOURCE_UNSPECIFIED and req.HasField("parts")):
        if not req.HasField("parts"):
            raise InvalidInputError("part_source is INLINE but no parts were given", field=field)
        return convert.parts_from_proto(req.parts, V, field)
    if src == spb.PART_SOURCE_SKIN:
        if asset.rig is None:
            raise InvalidInputError("PART_SOURCE_SKIN needs an uploaded asset with a skin (JOINTS_0/WEIGHTS_0)",
                                    field="part_source")
        return asset.parts_from_skin().validate(V)
    if asset.parts is None or asset.parts.n_parts < 1:
        raise InvalidInputError("no parts: send parts, or upload an asset whose groups/labels give them",
                                field=field)
    try:
        return asset.parts.validate(V)
    except InvalidInputError as e:
        raise InvalidInputError(str(e), field=f"{field}(asset).{e.field}") from None


def _check_export(opts: spb.ExportOptions, allowed, what: str) -> None:
    for i, f in enumerate(opts.formats):
        if f not in allowed:
            name = spb.ExportFormat.Name(f) if f in spb.ExportFormat.values() else str(f)
            ok = ", ".join(spb.ExportFormat.Name(a) for a in allowed)
            raise InvalidInputError(f"{name} is not an export format for {what} (use {ok})",
                                    field=f"export.formats[{i}]")
    if opts.up_axis not in ("", "Y", "Z", "y", "z"):
        raise InvalidInputError(f"up_axis must be 'Y' or 'Z', got {opts.up_axis[:16]!r}", field="export.up_axis")
    if not (np.isfinite(opts.meters_per_unit) and opts.meters_per_unit >= 0):
        raise InvalidInputError(f"meters_per_unit must be positive, got {opts.meters_per_unit}",
                                field="export.meters_per_unit")


def _emit_file(job: Job, path: Path, fmt: int, chunk: int) -> None:
    """An export file as blob_header, blob_chunk..., blob_end, read from disk a chunk at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    job.emit(blob_header=spb.BlobHeader(name=path.name, format=fmt, content_type=_EXPORT[fmt][1],
                                        total_size=path.stat().st_size, sha256=h.hexdigest()))
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            job.check()
            job.emit(blob_chunk=block)
    job.emit(blob_end=spb.BlobEnd(name=path.name))


def _emit_result(job: Job, name: str, msg, limit: int, chunk: int, chunked: bool) -> None:
    """The structured result: one event when it fits, else result_header + result_chunk events."""
    n = msg.ByteSize()
    if n > MAX_RESULT_BYTES:
        raise ResultTooLarge(f"the result is {n} bytes; protobuf messages must stay under 2 GiB even in chunks "
                             f"(ask for fewer influences, or export files only)")
    if not chunked and n <= limit - (64 << 10):
        job.emit(**{name: msg})
        return
    data = msg.SerializeToString()
    job.emit(result_header=spb.ResultHeader(message_type=msg.DESCRIPTOR.full_name, total_size=len(data),
                                            sha256=hashlib.sha256(data).hexdigest()))
    view = memoryview(data)
    for i in range(0, len(data), chunk):
        job.check()
        job.emit(result_chunk=bytes(view[i:i + chunk]))


def _export_rig(job: Job, rig, opts: spb.ExportOptions, chunk: int) -> None:
    if not opts.formats:
        return
    from exporters.gltf import write_rig_gltf
    from exporters.usd import write_rig_usd
    with tempfile.TemporaryDirectory(prefix="articulate-export-") as tmp:
        for fmt in opts.formats:
            job.check()
            ext = _EXPORT[fmt][0]
            p = Path(tmp) / f"rig.{ext}"
            if ext == "glb":
                write_rig_gltf(rig, p, animations=not opts.skip_animations)
            else:
                write_rig_usd(rig, p, up_axis=(opts.up_axis or "Y").upper(), meters_per_unit=opts.meters_per_unit or 1.0,
                              animations=not opts.skip_animations)
            _emit_file(job, p, fmt, chunk)
            p.unlink()


#: articulation writers by format: (module, function); issue 4 provides them (exporters/)
ARTICULATION_WRITERS = {
    spb.EXPORT_FORMAT_URDF: ("exporters.urdf", "write_urdf"),
    spb.EXPORT_FORMAT_USDA: ("exporters.physics_usd", "write_physics_usd"),
    spb.EXPORT_FORMAT_USDC: ("exporters.physics_usd", "write_physics_usd"),
}


def _articulation_writer(fmt: int):
    import importlib
    mod, fn = ARTICULATION_WRITERS[fmt]
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise NotImplementedError(f"{spb.ExportFormat.Name(fmt)} export of articulations is not available in this "
                                  f"build ({mod}.{fn}: {e})") from None


def _export_articulation(job: Job, art, opts: spb.ExportOptions, chunk: int) -> None:
    if not opts.formats:
        return
    with tempfile.TemporaryDirectory(prefix="articulate-export-") as tmp:
        for fmt in opts.formats:
            job.check()
            p = Path(tmp) / f"articulation.{_EXPORT[fmt][0]}"
            write = _articulation_writer(fmt)
            if fmt == spb.EXPORT_FORMAT_URDF:
                write(art, p)
            else:
                write(art, p, up_axis=(opts.up_axis or "Y").upper())
            _emit_file(job, p, fmt, chunk)


def estimate_rig_bytes(n_vertices: int, n_faces: int, n_joints: int, k: int, *, mesh: bool = True,
                       frames: int = 0) -> int:
    """Upper bound of a RigResult's size: skin [V, k] (u32 + f32), labels, skeleton, clip, the mesh (f64)."""
    skin = n_vertices * k * 8 + n_vertices * 4
    skel = n_joints * (2 * 16 * 9 + 80)
    clip = frames * n_joints * 40
    geo = (n_vertices * (24 + 8) + n_faces * 12) if mesh else 0
    return skin + skel + clip + geo + 4096


def _plan_size(plan: "Plan", cfg: ServiceConfig, estimate: int, floor: int) -> "Plan":
    """Decide at plan time how the result travels; refuse one that can never be sent (before any work)."""
    if floor > MAX_RESULT_BYTES:
        raise ResultTooLarge(f"the result would be at least {floor} bytes; protobuf messages must stay under 2 GiB "
                             f"even in chunks (ask for fewer influences)")
    plan.result_bytes = estimate
    plan.chunked = estimate > cfg.max_send_bytes - (64 << 10)
    return plan


#: RigRequest.template / .naming values (sdk.autorig.TEMPLATE_CHOICES / PROFILES; checked equal in tests)
RIG_TEMPLATES = ("auto", "biped", "quadruped", "chain")
RIG_NAMINGS = ("ue5", "mixamo", "unity", "generic")


def _wants_autorig(req: spb.RigRequest, asset) -> bool:
    """A plain mesh: ``template`` set, or no parts asked for (part_source unspecified, no inline parts) and the
    asset carries none. An explicit part source (INLINE, ASSET, SKIN) keeps its own errors."""
    if req.template:
        return True
    return (req.part_source == spb.PART_SOURCE_UNSPECIFIED and not req.HasField("parts")
            and (asset.parts is None or asset.parts.n_parts < 1))


def plan_rig(req: spb.RigRequest, *, articulator, uploads: UploadStore | None, cfg: ServiceConfig) -> Plan:
    if req.template and req.template not in RIG_TEMPLATES:
        raise InvalidInputError(f"unknown template '{req.template[:64]}' (use one of {', '.join(RIG_TEMPLATES)})",
                                field="template")
    if req.naming and req.naming not in RIG_NAMINGS:
        raise InvalidInputError(f"unknown naming profile '{req.naming[:64]}' (use one of {', '.join(RIG_NAMINGS)})",
                                field="naming")
    asset = resolve_mesh_input(req.input, uploads)
    if _wants_autorig(req, asset):
        return _plan_autorig(req, asset, articulator=articulator, cfg=cfg)
    return _plan_rig_parts(req, asset, articulator=articulator, cfg=cfg)


def _rig_common(req: spb.RigRequest) -> int:
    k = req.max_influences or 4
    if not 1 <= k <= 32:
        raise InvalidInputError(f"max_influences must be in [1, 32], got {k}", field="max_influences")
    if req.quantize_bits not in (0, 8, 16):
        raise InvalidInputError(f"quantize_bits must be 0, 8 or 16, got {req.quantize_bits}", field="quantize_bits")
    _check_export(req.export, _RIG_FORMATS, "a rig")
    return k


#: bones a template rig may have, for the result size estimate (biped with fingers is ~70)
_AUTORIG_MAX_JOINTS = 256


def _plan_autorig(req: spb.RigRequest, asset, *, articulator, cfg: ServiceConfig) -> Plan:
    """A plain mesh through the facade's autorig path (Articulator.rig with no parts)."""
    from ..io import Asset
    if req.method not in ("", "heat"):
        raise InvalidInputError(f"a plain mesh is skinned with bone heat; method '{req.method[:64]}' needs parts "
                                "(send parts, or leave method empty)", field="method")
    if req.root:
        raise InvalidInputError("root names a part; a plain mesh (template rig) has none", field="root")
    k = _rig_common(req)
    template, naming = req.template or None, req.naming or "ue5"
    mesh, mfield = asset.mesh, mesh_field(req.input)
    include_mesh, export = req.include_mesh, spb.ExportOptions()
    export.CopyFrom(req.export)
    max_bones, qbits = req.max_bones or None, req.quantize_bits or None

    def run(job: Job) -> None:
        try:
            rig = articulator.rig(Asset(None, mesh), None, template=template, naming=naming, max_influences=k,
                                  max_bones=max_bones, quantize_bits=qbits, progress=job.progress)
        except InvalidInputError as e:
            raise convert.rebase_mesh_error(e, mfield) from None
        job.check()
        # autorig stands the mesh upright (rotated) and may drop degenerate faces: then the caller needs its mesh
        changed = rig.mesh is not mesh and (rig.mesh.n_faces != mesh.n_faces
                                            or not np.array_equal(rig.mesh.vertices, mesh.vertices))
        result = spb.RigResult(rig=convert.rig_to_proto(rig, include_mesh=include_mesh or changed))
        _emit_result(job, "rig", result, cfg.max_send_bytes, cfg.chunk_bytes, plan.chunked)
        del result
        _export_rig(job, rig, export, cfg.chunk_bytes)

    plan = Plan("rig", run)
    V, F = mesh.n_vertices, mesh.n_faces
    return _plan_size(plan, cfg, estimate_rig_bytes(V, F, max_bones or _AUTORIG_MAX_JOINTS, k, mesh=True), V * k * 8)


def _plan_rig_parts(req: spb.RigRequest, asset, *, articulator, cfg: ServiceConfig) -> Plan:
    from ..io import Asset
    from ..rigging import METHODS
    parts = resolve_parts(req, asset)
    from ..rigging.methods import DEFAULT_METHOD
    method = req.method or DEFAULT_METHOD
    if method not in METHODS:
        raise InvalidInputError(f"unknown skinning method '{req.method[:64]}' (use one of {', '.join(METHODS)})",
                                field="method")
    k = req.max_influences or 4
    check_budget(k, None, None)  # the SDK's one bound (sdk.rigging.budget.MAX_INFLUENCES)
    if req.quantize_bits not in (0, 8, 16):
        raise InvalidInputError(f"quantize_bits must be 0, 8 or 16, got {req.quantize_bits}", field="quantize_bits")
    root = None
    if req.root:
        if req.root.isdigit():
            root = int(req.root)
            if root >= parts.n_parts:
                raise InvalidInputError(f"root part {root} is out of range (there are {parts.n_parts} parts)",
                                        field="root")
        elif req.root not in parts.names:
            raise InvalidInputError(f"unknown root part '{req.root[:64]}' (parts: {', '.join(parts.names[:20])})",
                                    field="root")
        else:
            root = req.root
    _check_export(req.export, _RIG_FORMATS, "a rig")
    mesh, mfield = asset.mesh, mesh_field(req.input)
    include_mesh, export = req.include_mesh, spb.ExportOptions()
    export.CopyFrom(req.export)

    def run(job: Job) -> None:
        n_faces = mesh.n_faces
        try:
            rig = articulator.rig(Asset(None, mesh, parts=parts), parts, method=method, max_influences=k,
                                  max_bones=req.max_bones or None, root=root, quantize_bits=req.quantize_bits or None,
                                  progress=job.progress)
        except InvalidInputError as e:
            raise convert.rebase_mesh_error(e, mfield) from None
        job.check()
        # the SDK drops degenerate faces: then the caller needs the mesh the skin binds
        result = spb.RigResult(rig=convert.rig_to_proto(rig, include_mesh=include_mesh or rig.mesh.n_faces != n_faces))
        _emit_result(job, "rig", result, cfg.max_send_bytes, cfg.chunk_bytes, plan.chunked)
        del result
        _export_rig(job, rig, export, cfg.chunk_bytes)

    plan = Plan("rig", run)
    V, F = mesh.n_vertices, mesh.n_faces
    return _plan_size(plan, cfg, estimate_rig_bytes(V, F, parts.n_parts, k, mesh=True), V * k * 8)


def plan_rig_from_motion(req: spb.RigFromMotionRequest, *, articulator, uploads: UploadStore | None,
                         cfg: ServiceConfig) -> Plan:
    kind = req.motion.WhichOneof("source")
    if kind is None:
        raise InvalidInputError("no motion given (set motion.sequence or motion.upload_id)", field="motion")
    kwargs: dict = {}
    md, file_data, suffix, mfield = None, None, "", "motion.sequence"
    if kind == "sequence":
        md = convert.motion_from_proto(req.motion.sequence, mfield)
    else:
        if uploads is None:
            raise InvalidInputError("uploads are not available here", field="motion.upload_id")
        u = uploads.get(req.motion.upload_id, "motion.upload_id")
        if u.content_type.startswith("application/x-protobuf"):
            try:
                m = pb.MotionSequence.FromString(u.data)
            except Exception:  # noqa: BLE001
                raise InvalidInputError("uploaded data is not a valid articulate.rig.v1.MotionSequence message",
                                        field="motion.upload_id") from None
            mfield = "motion.upload_id(sequence)"
            md = convert.motion_from_proto(m, mfield)
        else:
            suffix = Path(u.filename).suffix.lower()
            if suffix not in formats.suffixes("sequence", upload=True):
                raise InvalidInputError(f"upload '{u.filename}' is not an animated asset "
                                        f"({', '.join(formats.suffixes('sequence', upload=True))})",
                                        field="motion.upload_id")
            file_data = u.data
            if req.clip:
                kwargs["clip"] = req.clip
    k = req.max_influences or 4
    check_budget(k, None, None)  # the SDK's one bound (sdk.rigging.budget.MAX_INFLUENCES)
    _check_export(req.export, _RIG_FORMATS, "a rig")
    include_mesh, export = req.include_mesh, spb.ExportOptions()
    export.CopyFrom(req.export)
    max_bones = req.max_parts or None

    def run(job: Job) -> None:
        # the facade reads sequences from files (Articulator.rig_from_motion -> load_sequence(path)): decoded
        # frames go to an .npz in MeshSequence.save's layout (float64 kept), uploads keep their own format
        with tempfile.TemporaryDirectory(prefix="articulate-motion-") as tmp:
            if md is not None:
                path = Path(tmp) / "sequence.npz"
                arrays = dict(vertices=md.vertices, fps=np.float64(md.fps), name=np.str_(md.name))
                if md.faces is not None:
                    arrays["faces"] = md.faces
                np.savez(path, **arrays)
            else:
                path = Path(tmp) / f"upload{suffix}"
                path.write_bytes(file_data)
            try:
                rig = articulator.rig_from_motion(str(path), max_bones=max_bones, max_influences=k,
                                                  progress=job.progress, **kwargs)
            except InvalidInputError as e:
                f = e.field or ""
                if md is not None and (f in ("vertices", "faces", "fps") or f.startswith(("vertices[", "faces["))):
                    raise InvalidInputError(str(e), field=f"{mfield}.{f}") from None
                raise
        job.check()
        report = rig.metadata.get("report")
        result = spb.RigResult(rig=convert.rig_to_proto(rig, include_mesh=include_mesh),
                               report=convert.report_map(report))
        _emit_result(job, "rig", result, cfg.max_send_bytes, cfg.chunk_bytes, plan.chunked)
        del result
        _export_rig(job, rig, export, cfg.chunk_bytes)

    plan = Plan("rig_from_motion", run)
    if md is not None:
        T, V = md.vertices.shape[:2]
        F = 0 if md.faces is None else len(md.faces)
        return _plan_size(plan, cfg, estimate_rig_bytes(V, F, max_bones or 64, k, frames=T), V * k * 8)
    return _plan_size(plan, cfg, 4 * len(file_data), 0)  # an asset file: its size bounds the geometry it carries


def plan_articulate(req: spb.ArticulatePartsRequest, *, articulator, uploads: UploadStore | None,
                    cfg: ServiceConfig) -> Plan:
    from ..io import Asset
    asset = resolve_mesh_input(req.input, uploads)
    parts = resolve_parts(req, asset)
    prompts: dict[str, str | None] = {}
    for i, pp in enumerate(req.prompts):
        name = pp.part
        if name not in parts.names:
            if name.isdigit() and int(name) < parts.n_parts:
                name = parts.names[int(name)]
            else:
                raise InvalidInputError(f"unknown part '{pp.part[:64]}' (parts: {', '.join(parts.names[:20])})",
                                        field=f"prompts[{i}].part")
        if name in prompts:
            raise InvalidInputError(f"part '{name}' is listed twice", field=f"prompts[{i}].part")
        if len(pp.prompt) > 1000:
            raise InvalidInputError("prompt is longer than 1000 characters", field=f"prompts[{i}].prompt")
        prompts[name] = pp.prompt or None
    if not req.all_parts and not prompts:
        raise InvalidInputError("name at least one part in prompts, or set all_parts", field="prompts")
    _check_export(req.export, _ARTICULATION_FORMATS, "an articulation")
    for fmt in req.export.formats:  # before any work: say now that a file cannot be made
        _articulation_writer(fmt)
    mesh, include_meshes, export = asset.mesh, req.include_meshes, spb.ExportOptions()
    export.CopyFrom(req.export)
    all_parts = req.all_parts or len(prompts) > 1
    mfield = mesh_field(req.input)

    def run(job: Job) -> None:
        a = Asset(None, mesh, parts=parts)
        try:
            if all_parts:
                art = articulator.articulate(a, all_parts=True, prompts=prompts or None, progress=job.progress)
            else:
                (part, prompt), = prompts.items()
                art = articulator.articulate(a, part, prompt=prompt, progress=job.progress)
        except InvalidInputError as e:
            raise convert.rebase_mesh_error(e, mfield) from None
        job.check()
        result = spb.ArticulationResult(articulation=convert.articulation_to_proto(art, include_meshes=include_meshes))
        _emit_result(job, "articulation", result, cfg.max_send_bytes, cfg.chunk_bytes, plan.chunked)
        del result
        _export_articulation(job, art, export, cfg.chunk_bytes)

    plan = Plan("articulate_parts", run)
    est = (mesh.n_vertices * 24 + mesh.n_faces * 12 if include_meshes else 0) + parts.n_parts * 512 + 4096
    return _plan_size(plan, cfg, est, 0)


#: generic tasks (GenericTask.task -> planner(task, articulator, uploads, cfg) -> Plan); later work registers here.
#: Planners are module-level functions (a job's worker process receives them by reference).
GENERIC_TASKS: dict[str, Callable[..., Plan]] = {}


class UploadView:
    """The uploads a job's worker process may read (the store's entries when the job was submitted)."""

    def __init__(self, items: dict[str, Upload]):
        self._items = items

    def get(self, upload_id: str, field: str) -> Upload:
        u = self._items.get(upload_id)
        if u is None or not u.path.exists():
            raise InvalidInputError(f"unknown, expired or deleted upload id '{upload_id[:64]}'", field=field)
        return u


@dataclass
class JobSpec:
    """How a job's worker process rebuilds the job: the planner and the request (as bytes), planned again there."""
    planner: Callable[..., Plan]
    request_type: str            # a message name in articulate_service_pb2
    request: bytes
    articulator: object
    uploads: dict
    cfg: ServiceConfig

    def make(self) -> Callable[[Job], None]:
        req = getattr(spb, self.request_type).FromString(self.request)
        return self.planner(req, articulator=self.articulator, uploads=UploadView(self.uploads), cfg=self.cfg).run


# ---------------------------------------------------------------------------------- admission

def bearer_token(metadata) -> str | None:
    """The token of ``authorization: Bearer <token>`` (scheme case-insensitive, RFC 7235), else None."""
    for k, v in metadata or ():
        if k == "authorization":
            v = v.decode() if isinstance(v, bytes) else v
            parts = v.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                return parts[1].strip()
            return None
    return None


class Admission:
    """Counts service calls in flight, globally and per token; a call past either limit is refused."""

    def __init__(self, max_calls: int, per_token: int, by_token: bool):
        self.max_calls, self.per_token, self.by_token = max_calls, per_token, by_token
        self.calls = 0
        self._tokens: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, token: str | None) -> str | None:
        """None when admitted, else why not."""
        key = token or "" if self.by_token else ""
        with self._lock:
            if self.calls >= self.max_calls:
                return f"the server has {self.calls} calls in flight (limit {self.max_calls}); retry later"
            if self.by_token and self._tokens.get(key, 0) >= self.per_token:
                return f"this token has {self._tokens[key]} calls in flight (limit {self.per_token}); retry later"
            self.calls += 1
            self._tokens[key] = self._tokens.get(key, 0) + 1
        return None

    def leave(self, token: str | None) -> None:
        key = token or "" if self.by_token else ""
        with self._lock:
            self.calls -= 1
            n = self._tokens.get(key, 1) - 1
            if n:
                self._tokens[key] = n
            else:
                self._tokens.pop(key, None)


class _Refused(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, field: str = ""):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _refusal(e: BaseException) -> _Refused | None:
    """The status of a planning/submission failure, or None for one that is not the caller's."""
    if isinstance(e, _Refused):
        return e
    if isinstance(e, InvalidInputError):
        return _Refused(grpc.StatusCode.INVALID_ARGUMENT, str(e), e.field or "")
    if isinstance(e, (QueueFull, ResultTooLarge)):
        return _Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
    if isinstance(e, QueueClosed):
        return _Refused(grpc.StatusCode.UNAVAILABLE, str(e))
    if isinstance(e, NotImplementedError):
        return _Refused(grpc.StatusCode.UNIMPLEMENTED, str(e))
    return None
def plan_batch(req: spb.GenericTask, *, articulator, uploads, cfg: ServiceConfig) -> Plan:
    """``SubmitJob(generic={task: "batch", params: {input_dir, out_dir, task, options}})`` -> sdk.batch on Ray
    (``articulate serve --ray-address ... --batch-root DIR``); ends with the summary as a ``batch_summary.json`` blob."""
    import json

    from google.protobuf import json_format

    from ..batch.service import config_from_params, submit_batch
    inp, out, bcfg = config_from_params(json_format.MessageToDict(req.params))

    def run(job: Job) -> None:
        s = submit_batch(inp, out, bcfg.task, bcfg.options, progress=job.progress, workers=bcfg.workers,
                         retry_invalid=bcfg.retry_invalid, force=bcfg.force)
        data = json.dumps(s, indent=1).encode()
        job.emit(blob_header=spb.BlobHeader(name="batch_summary.json", content_type="application/json",
                                            total_size=len(data), sha256=hashlib.sha256(data).hexdigest()))
        job.emit(blob_chunk=data)
        job.emit(blob_end=spb.BlobEnd(name="batch_summary.json"))

    return Plan("batch", run, in_server=True)  # Ray runs the assets; the server's batch roots live in this process


GENERIC_TASKS["batch"] = plan_batch

_CACHE_FORMATS = {"usdc": ".usdc", "usda": ".usda", "glb": ".glb"}


def plan_mesh_cache(req: spb.GenericTask, *, articulator, uploads, cfg: ServiceConfig) -> Plan:
    """``SubmitJob(generic={task: "mesh_cache", upload_ids: [SEQUENCE], params: {format: usdc|usda|glb, register,
    mode: template|chain, iterations, max_frames, fps}})`` -> the 4D mesh cache of ``articulate mesh-cache`` as one
    blob ``mesh_cache.<format>`` (USD as a single file). SEQUENCE: an uploaded .npz / glTF clip / USD cache; frames of
    varying topology need ``register: true`` (registered into frame 0's topology, UVs carried)."""
    import numpy as np
    from google.protobuf import json_format

    params = json_format.MessageToDict(req.params)
    known = {"format", "register", "mode", "iterations", "max_frames", "fps"}
    extra = sorted(set(params) - known)
    if extra:
        raise InvalidInputError(f"unknown parameter '{extra[0]}' (known: {', '.join(sorted(known))})",
                                field=f"generic.params.{extra[0]}")
    fmt = str(params.get("format", "usdc")).lower()
    if fmt not in _CACHE_FORMATS:
        raise InvalidInputError(f"unknown format '{fmt[:32]}' (use {', '.join(_CACHE_FORMATS)})",
                                field="generic.params.format")
    mode = str(params.get("mode", "template"))
    if mode not in ("template", "chain"):
        raise InvalidInputError(f"unknown mode '{mode[:32]}' (use template, chain)", field="generic.params.mode")
    register = bool(params.get("register", False))
    iterations, max_frames = params.get("iterations"), params.get("max_frames")
    for name, val in (("iterations", iterations), ("max_frames", max_frames), ("fps", params.get("fps"))):
        if val is not None and not (isinstance(val, (int, float)) and val > 0):
            raise InvalidInputError(f"{name} must be a positive number", field=f"generic.params.{name}")
    if len(req.upload_ids) != 1:
        raise InvalidInputError(f"mesh_cache takes one upload (the sequence), got {len(req.upload_ids)}",
                                field="generic.upload_ids")
    up = uploads.get(req.upload_ids[0], "generic.upload_ids[0]")
    fps = params.get("fps")

    def run(job: Job) -> None:
        import tempfile
        from ..core import MeshFrames
        from ..io.sequence import load_mesh_frames
        frames = load_mesh_frames(up.path, fps=fps)
        if max_frames and frames.n_frames > max_frames:
            idx = np.unique(np.round(np.linspace(0, frames.n_frames - 1, int(max_frames))).astype(np.int64))
            frames = MeshFrames([frames.frames[i] for i in idx], frames.fps * (len(idx) - 1) / (frames.n_frames - 1),
                                frames.name, frames.source)
        frames.validate(min_frames=2)
        if register:
            from ..registration import RegistrationConfig, register_frames
            rc = RegistrationConfig(mode=mode)
            if iterations:
                rc.iterations = int(iterations)
            seq, _ = register_frames(frames, rc, progress=job.progress)
        elif frames.fixed_topology:
            seq = frames.to_sequence()
        else:
            raise InvalidInputError("the frames' topology varies: set register: true", field="generic.params.register")
        job.check()
        name = f"mesh_cache{_CACHE_FORMATS[fmt]}"
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / name
            if fmt == "glb":
                from exporters.gltf_morph import write_mesh_cache_gltf
                write_mesh_cache_gltf(seq, out)
            else:
                from exporters.usd_cache import write_mesh_cache_usd
                write_mesh_cache_usd(seq, out, separate_layer=False)
            data = out.read_bytes()
        job.emit(blob_header=spb.BlobHeader(name=name, content_type="application/octet-stream",
                                            total_size=len(data), sha256=hashlib.sha256(data).hexdigest()))
        for i in range(0, len(data), cfg.chunk_bytes):
            job.emit(blob_chunk=data[i:i + cfg.chunk_bytes])
        job.emit(blob_end=spb.BlobEnd(name=name))

    return Plan("mesh_cache", run)


GENERIC_TASKS["mesh_cache"] = plan_mesh_cache


# ---------------------------------------------------------------------------------- servicer

class ArticulateServicer(sgrpc.ArticulateServiceServicer):
    def __init__(self, articulator=None, cfg: ServiceConfig | None = None, queue: JobQueue | None = None):
        if articulator is None:
            from ..articulator import Articulator
            articulator = Articulator()
        self.articulator = articulator
        self.cfg = cfg or ServiceConfig()
        self.queue = queue or JobQueue(self.cfg.workers, self.cfg.queue_capacity, isolation=self.cfg.isolation)
        self.uploads = UploadStore(self.cfg.upload_store_bytes, self.cfg.upload_ttl_s, self.cfg.unusable_upload_ttl_s,
                                   self.cfg.upload_dir)
        self.admission = Admission(self.cfg.max_calls, self.cfg.max_calls_per_token, self.cfg.auth_required)
        self._planner_pool = futures.ThreadPoolExecutor(max_workers=self.cfg.plan_threads,
                                                        thread_name_prefix="articulate-plan")
        self.closing = False
        # found once, here: find_spec imports packages (torch among them), which must never block the event loop
        self._tasks = self._find_tasks()
        from ..rigging import METHODS
        self._methods = list(METHODS)

    def close(self) -> None:
        self._planner_pool.shutdown(wait=False, cancel_futures=True)
        self.uploads.close()

    # ------------------------------------------------------------------ helpers
    def _plan(self, planner, req) -> Plan:
        return planner(req, articulator=self.articulator, uploads=self.uploads, cfg=self.cfg)

    async def _in_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._planner_pool, fn, *args)

    async def _abort(self, context, code: grpc.StatusCode, message: str, field: str = ""):
        if field:
            context.set_trailing_metadata(((FIELD_METADATA_KEY, field),))
        await context.abort(code, f"{field}: {message}" if field else message)

    def _final_event(self, code: grpc.StatusCode, message: str, field: str = "") -> spb.JobEvent:
        return spb.JobEvent(final=spb.FinalStatus(code=code.value[0], message=message, field=field))

    def _admit(self, context) -> tuple[str | None, str | None]:
        token = bearer_token(context.invocation_metadata())
        return token, self.admission.enter(token)

    async def _write(self, context, ev) -> None:
        try:
            await asyncio.wait_for(context.write(ev), self.cfg.write_timeout_s)
        except asyncio.TimeoutError:
            await self._abort(context, grpc.StatusCode.DEADLINE_EXCEEDED,
                              f"the client read nothing for {self.cfg.write_timeout_s:g} s")

    def _spec(self, planner, request) -> JobSpec | None:
        if self.queue.isolation != "process":
            return None
        with self.uploads._lock:
            items = dict(self.uploads._items)
        return JobSpec(planner, type(request).__name__, request.SerializeToString(), self.articulator, items, self.cfg)

    def _submit(self, plan: Plan, context, *, label: str = "", bind_to_call: bool, spec: JobSpec | None = None) -> Job:
        if plan.in_server:
            spec = None
        remaining = context.time_remaining() if bind_to_call else None
        limit = self.cfg.max_call_s if bind_to_call else None
        if remaining is not None:
            # finish a little before the client's deadline, so the final status still reaches it in band
            remaining = remaining - min(0.25, 0.1 * remaining)
            limit = remaining if limit is None else min(limit, remaining)
        job = Job(plan.kind, plan.run, label=label, spec=spec,
                  deadline=None if limit is None else time.monotonic() + max(limit, 0.0))
        if plan.cleanup and spec is None:
            fn = plan.run

            def run_then_clean(j, fn=fn, cleanup=tuple(plan.cleanup)):
                try:
                    fn(j)
                finally:
                    for c in cleanup:
                        c()
            job.fn = run_then_clean
        self.queue.submit(job)
        return job

    async def _follow(self, job: Job, context, start: int = 0) -> None:
        """Write the job's events from ``start`` on; its non-OK outcome becomes the call's status too."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        job.add_waiter(loop, wake)
        i = start
        try:
            while True:
                events, done = job.since(i)
                for ev in events:
                    await self._write(context, ev)
                i += len(events)
                if done and i >= len(job.events):
                    break
                wake.clear()
                if len(job.events) > i or job.done:
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
        finally:
            job.remove_waiter(wake)
        final = job.events[-1].final
        if final.code != 0:
            await self._abort(context, _CODES.get(final.code, grpc.StatusCode.UNKNOWN), final.message, final.field)

    async def _stream(self, planner, request, context):
        token, refused = self._admit(context)
        if refused:
            await self._write(context, self._final_event(grpc.StatusCode.RESOURCE_EXHAUSTED, refused))
            await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        job = None
        try:
            try:
                plan = await self._in_pool(self._plan, planner, request)
                job = self._submit(plan, context, bind_to_call=True, spec=self._spec(planner, request))
                del plan
            except Exception as e:  # noqa: BLE001 - mapped below; anything else is a server bug
                r = _refusal(e)
                if r is None:
                    raise
                await self._write(context, self._final_event(r.code, r.message, r.field))
                await self._abort(context, r.code, r.message, r.field)
            await self._follow(job, context)
        finally:
            self.admission.leave(token)
            if job is not None:
                if not job.done:
                    remaining = context.time_remaining()
                    if remaining is not None and remaining <= 0.01:
                        job.cancel(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
                    else:
                        job.cancel(grpc.StatusCode.CANCELLED, "the client cancelled the call")
                self.queue.forget(job)  # its events (results, file chunks) are not kept after the call
                del job
            trim_memory()

    # ------------------------------------------------------------------ RPCs
    async def Rig(self, request, context):
        await self._stream(plan_rig, request, context)

    async def RigFromMotion(self, request, context):
        await self._stream(plan_rig_from_motion, request, context)

    async def ArticulateParts(self, request, context):
        await self._stream(plan_articulate, request, context)

    async def _next(self, it, context):
        """The next message of a client stream, or None at its end; a silent client loses the call."""
        try:
            return await asyncio.wait_for(it.__anext__(), self.cfg.idle_timeout_s)
        except StopAsyncIteration:
            return None
        except asyncio.TimeoutError:
            await self._abort(context, grpc.StatusCode.DEADLINE_EXCEEDED,
                              f"no upload chunk for {self.cfg.idle_timeout_s:g} s (idle timeout)")

    async def Upload(self, request_iterator, context):
        if self.closing:
            await self._abort(context, grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
        token, refused = self._admit(context)
        if refused:
            await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        reserved, f, path, committed = 0, None, None, False
        try:
            it = request_iterator.__aiter__()
            header, size, end, i = None, 0, None, 0
            h = hashlib.sha256()
            limit = self.cfg.max_upload_bytes
            while True:
                msg = await self._next(it, context)
                if msg is None:
                    break
                part = msg.WhichOneof("part")
                if part is None:
                    await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "empty chunk", f"chunks[{i}]")
                if i == 0 and part != "header":
                    await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the first chunk must be a header",
                                      "header")
                if part == "header":
                    if i != 0:
                        await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a second header",
                                          f"chunks[{i}].header")
                    header = msg.header
                    if len(header.filename) > 256:
                        await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "filename is longer than 256 "
                                          "characters", "header.filename")
                    if header.total_size > limit:
                        await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                                          f"upload of {header.total_size} bytes exceeds the limit of {limit}")
                    try:  # the announced size is held for the whole upload: the budget holds while bytes arrive
                        self.uploads.reserve(header.total_size)
                    except UploadFull as e:
                        await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
                    reserved = header.total_size
                    uid, path = self.uploads.new_path(header.filename)
                    f = open(path, "wb")
                elif part == "data":
                    if end is not None:
                        await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "data after end",
                                          f"chunks[{i}].data")
                    n = len(msg.data)
                    size += n
                    if size > limit or (header.total_size and size > header.total_size):
                        await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT if size <= limit
                                          else grpc.StatusCode.RESOURCE_EXHAUSTED,
                                          f"received {size} bytes, more than announced ({header.total_size}) or "
                                          f"allowed ({limit})", f"chunks[{i}].data")
                    if size > reserved:
                        try:
                            self.uploads.reserve(size - reserved)
                        except UploadFull as e:
                            await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
                        reserved = size
                    h.update(msg.data)
                    f.write(msg.data)
                else:
                    end = msg.end
                i += 1
            if header is None:
                await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no header", "header")
            if end is None:
                await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the upload ended without an end chunk",
                                  "end")
            if header.total_size and size != header.total_size:
                await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                                  f"received {size} bytes, the header announced {header.total_size}",
                                  "header.total_size")
            digest = h.hexdigest()
            if end.sha256 and end.sha256.lower() != digest:
                await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                                  f"sha256 mismatch (data hashes to {digest})", "end.sha256")
            f.close()
            u = self.uploads.commit(uid, path, header.filename, header.content_type, size, digest, reserved)
            committed = True
            return spb.UploadResponse(upload_id=u.id, size=size, sha256=digest,
                                      expires_in_s=max(0.0, u.expires - time.monotonic()))
        finally:
            self.admission.leave(token)
            trim_memory()
            if not committed:
                if f is not None:
                    f.close()
                if path is not None:
                    path.unlink(missing_ok=True)
                self.uploads.release(reserved)

    async def DeleteUpload(self, request, context):
        token, refused = self._admit(context)
        if refused:
            await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        try:
            n = self.uploads.delete(request.upload_id)
            if n is None:
                await self._abort(context, grpc.StatusCode.NOT_FOUND,
                                  f"no upload '{request.upload_id[:64]}' (unknown, expired or deleted)", "upload_id")
            return spb.DeleteUploadResponse(upload_id=request.upload_id, freed_bytes=n)
        finally:
            self.admission.leave(token)

    def _plan_job(self, request) -> tuple[Plan, JobSpec | None]:
        kind = request.WhichOneof("task")
        try:
            if kind is None:
                raise InvalidInputError("no task given (set rig, rig_from_motion, articulate_parts or generic)",
                                        field="task")
            if kind == "generic":
                planner = GENERIC_TASKS.get(request.generic.task)
                if planner is None:
                    raise _Refused(grpc.StatusCode.UNIMPLEMENTED, f"unknown task '{request.generic.task[:64]}'; this "
                                   f"server runs: {', '.join(self.tasks())}", "generic.task")
                return (planner(request.generic, articulator=self.articulator, uploads=self.uploads, cfg=self.cfg),
                        self._spec(planner, request.generic))
            planner = {"rig": plan_rig, "rig_from_motion": plan_rig_from_motion, "articulate_parts": plan_articulate}[kind]
            sub = getattr(request, kind)
            return self._plan(planner, sub), self._spec(planner, sub)
        except InvalidInputError as e:
            field = f"{kind}.{e.field}" if kind and e.field and kind != "generic" else (e.field or "")
            raise InvalidInputError(str(e), field=field) from None

    async def SubmitJob(self, request, context):
        token, refused = self._admit(context)
        if refused:
            await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        try:
            try:
                plan, spec = await self._in_pool(self._plan_job, request)
                job = self._submit(plan, context, label=request.label[:256], bind_to_call=False, spec=spec)
            except Exception as e:  # noqa: BLE001
                r = _refusal(e)
                if r is None:
                    raise
                await self._abort(context, r.code, r.message, r.field)
            return job.handle(self.queue.position(job))
        finally:
            self.admission.leave(token)

    async def _job(self, job_id: str, context) -> Job:
        job = self.queue.get(job_id)
        if job is None:
            await self._abort(context, grpc.StatusCode.NOT_FOUND, f"no job '{job_id[:64]}' (unknown or expired)",
                              "job_id")
        return job

    async def WatchJob(self, request, context):
        token, refused = self._admit(context)
        if refused:
            await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        try:
            job = await self._job(request.job_id, context)
            start = 0 if request.from_start else len(job.events)
            if job.done and start >= len(job.events):
                start = len(job.events) - 1  # a finished job still tells its outcome
            await self._follow(job, context, start)
        finally:
            self.admission.leave(token)

    async def CancelJob(self, request, context):
        # not admission-counted: cancelling is how a client frees its own capacity
        job = await self._job(request.job_id, context)
        job.cancel(grpc.StatusCode.CANCELLED, "cancelled by CancelJob")
        return job.handle(self.queue.position(job))

    async def GetJob(self, request, context):
        token, refused = self._admit(context)
        if refused:
            await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        try:
            job = await self._job(request.job_id, context)
            return job.handle(self.queue.position(job))
        finally:
            self.admission.leave(token)

    def tasks(self) -> list[str]:
        """Tasks whose SDK modules are present in this build."""
        return self._tasks + sorted(GENERIC_TASKS)

    @staticmethod
    def _find_tasks() -> list[str]:
        import importlib.util
        mods = {"rig": "sdk.rigging", "rig_from_motion": "sdk.motionrig.pipeline",
                "articulate_parts": "sdk.articulation.articulate"}
        return [t for t, m in mods.items() if importlib.util.find_spec(m) is not None]

    async def GetServerInfo(self, request, context):
        token, refused = self._admit(context)
        self.admission.leave(token) if refused is None else None
        if refused:
            await self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        from .. import __version__
        c = self.cfg
        return spb.ServerInfo(sdk_version=__version__, api_version=API_VERSION, max_receive_message_bytes=c.max_receive_bytes,
                              max_send_message_bytes=c.max_send_bytes, chunk_bytes=c.chunk_bytes,
                              max_upload_bytes=c.max_upload_bytes, workers=self.queue.workers,
                              queue_capacity=self.queue.capacity, tasks=self.tasks(), methods=self._methods,
                              auth_required=c.auth_required, tls=c.tls, upload_store_bytes=c.upload_store_bytes,
                              upload_ttl_s=c.upload_ttl_s, idle_timeout_s=c.idle_timeout_s, max_calls=c.max_calls,
                              max_calls_per_token=c.max_calls_per_token, isolation=self.queue.isolation)
