"""``articulate.services.v1.ArticulateService`` on top of :class:`sdk.Articulator`.

Each heavy RPC is split in two: a *plan* step that decodes and validates the request on the
handler thread (cheap; every problem becomes ``INVALID_ARGUMENT`` naming the field) and returns a
job function, and the job itself, run on the bounded :class:`~sdk.server.jobs.JobQueue`.
"""
from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
import uuid
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
from .jobs import Job, JobQueue, QueueClosed, QueueFull, ResultTooLarge

log = logging.getLogger("sdk.server")

SERVICE_NAME = spb.DESCRIPTOR.services_by_name["ArticulateService"].full_name
API_VERSION = "articulate.services.v1"
MESH_CONTENT_TYPE = "application/x-protobuf; message=articulate.rig.v1.Mesh"
MOTION_CONTENT_TYPE = "application/x-protobuf; message=articulate.rig.v1.MotionSequence"
ASSET_SUFFIXES = formats.suffixes("asset", upload=True)
FIELD_METADATA_KEY = "articulate-field"
_CODES = {c.value[0]: c for c in grpc.StatusCode}

_EXPORT = {
    spb.EXPORT_FORMAT_USDA: ("usda", "model/vnd.usda"),
    spb.EXPORT_FORMAT_USDC: ("usdc", "model/vnd.usd"),
    spb.EXPORT_FORMAT_GLB: ("glb", "model/gltf-binary"),
    spb.EXPORT_FORMAT_URDF: ("urdf", "application/xml"),
}
_RIG_FORMATS = (spb.EXPORT_FORMAT_USDA, spb.EXPORT_FORMAT_USDC, spb.EXPORT_FORMAT_GLB)
_ARTICULATION_FORMATS = (spb.EXPORT_FORMAT_USDA, spb.EXPORT_FORMAT_USDC, spb.EXPORT_FORMAT_URDF)


@dataclass
class ServiceConfig:
    workers: int = 1                    # heavy jobs run at once
    queue_capacity: int = 64            # jobs waiting beyond the running ones (RESOURCE_EXHAUSTED past it)
    max_receive_bytes: int = 64 << 20   # gRPC message limits (both directions)
    max_send_bytes: int = 64 << 20
    chunk_bytes: int = 1 << 20          # blob chunk size in event streams
    max_upload_bytes: int = 1 << 30     # per upload
    upload_store_bytes: int = 2 << 30   # all uploads held at once
    upload_ttl_s: float = 3600.0
    auth_required: bool = False
    tls: bool = False


# ---------------------------------------------------------------------------------- uploads

@dataclass
class Upload:
    id: str
    filename: str
    content_type: str
    data: bytes
    sha256: str
    expires: float


class UploadStore:
    """Uploaded blobs held in memory, bounded in total size, expiring after a TTL."""

    def __init__(self, max_bytes: int, ttl_s: float):
        self.max_bytes, self.ttl_s = max_bytes, ttl_s
        self._items: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = time.monotonic()
        for k in [k for k, u in self._items.items() if u.expires < now]:
            del self._items[k]

    def put(self, filename: str, content_type: str, data: bytes) -> Upload:
        with self._lock:
            self._expire()
            used = sum(len(u.data) for u in self._items.values())
            if used + len(data) > self.max_bytes:
                raise QueueFull(f"upload store is full ({used} of {self.max_bytes} bytes held); retry later")
            u = Upload(uuid.uuid4().hex, filename, content_type, data, hashlib.sha256(data).hexdigest(),
                       time.monotonic() + self.ttl_s)
            self._items[u.id] = u
            return u

    def get(self, upload_id: str, field: str) -> Upload:
        with self._lock:
            self._expire()
            u = self._items.get(upload_id)
        if u is None:
            raise InvalidInputError(f"unknown or expired upload id '{upload_id[:64]}'", field=field)
        return u


# ---------------------------------------------------------------------------------- plans

@dataclass
class Plan:
    """A validated request: the job function and what it needs."""
    kind: str
    run: Callable[[Job], None]
    cleanup: list[Callable[[], None]] = field(default_factory=list)


def _asset_from_upload(u, field: str):
    """Read an uploaded asset file (by its extension) into an Asset; the temp file is removed."""
    from ..io import load_asset
    suffix = Path(u.filename).suffix.lower()
    if suffix not in ASSET_SUFFIXES:
        raise InvalidInputError(f"upload '{u.filename}' has unsupported extension '{suffix}' "
                                f"(use one of {', '.join(ASSET_SUFFIXES)})", field=field)
    with tempfile.TemporaryDirectory(prefix="articulate-upload-") as tmp:
        p = Path(tmp) / f"upload{suffix}"
        p.write_bytes(u.data)
        try:
            return load_asset(p)
        except AssetReadError as e:
            raise InvalidInputError(f"cannot read uploaded '{u.filename}': {e}", field=field) from None
        except InvalidInputError as e:
            raise InvalidInputError(str(e), field=f"{field}({e.field})" if e.field else field) from None
        except Exception as e:  # noqa: BLE001 - any reader failure on client bytes is the client's input
            raise InvalidInputError(f"cannot read uploaded '{u.filename}': {type(e).__name__}: {e}",
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


def _emit_blob(job: Job, name: str, fmt: int, data: bytes, chunk: int) -> None:
    job.emit(blob_header=spb.BlobHeader(name=name, format=fmt, content_type=_EXPORT[fmt][1], total_size=len(data),
                                        sha256=hashlib.sha256(data).hexdigest()))
    for i in range(0, len(data), chunk):
        job.check()
        job.emit(blob_chunk=data[i:i + chunk])
    job.emit(blob_end=spb.BlobEnd(name=name))


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
            _emit_blob(job, p.name, fmt, p.read_bytes(), chunk)


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
            _emit_blob(job, p.name, fmt, p.read_bytes(), chunk)


def _check_result_size(job: Job, msg, limit: int, what: str) -> None:
    n = msg.ByteSize()
    if n > limit - 4096:
        raise ResultTooLarge(
            f"the {what} result is {n} bytes, over the server's max send message size ({limit}); ask for an "
            f"export file (sent in chunks) or start the server with a larger --max-message-mb")


def plan_rig(req: spb.RigRequest, *, articulator, uploads: UploadStore | None, cfg: ServiceConfig) -> Plan:
    from ..io import Asset
    from ..rigging import METHODS
    asset = resolve_mesh_input(req.input, uploads)
    parts = resolve_parts(req, asset)
    method = req.method or "harmonic"
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
        _check_result_size(job, result, cfg.max_send_bytes, "rig")
        job.emit(rig=result)
        _export_rig(job, rig, export, cfg.chunk_bytes)

    return Plan("rig", run)


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
        _check_result_size(job, result, cfg.max_send_bytes, "rig")
        job.emit(rig=result)
        _export_rig(job, rig, export, cfg.chunk_bytes)

    return Plan("rig_from_motion", run)


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
        _check_result_size(job, result, cfg.max_send_bytes, "articulation")
        job.emit(articulation=result)
        _export_articulation(job, art, export, cfg.chunk_bytes)

    return Plan("articulate_parts", run)


#: generic tasks (GenericTask.task -> planner(task, articulator, uploads, cfg) -> Plan); later work registers here
GENERIC_TASKS: dict[str, Callable[..., Plan]] = {}


# ---------------------------------------------------------------------------------- servicer

class ArticulateServicer(sgrpc.ArticulateServiceServicer):
    def __init__(self, articulator=None, cfg: ServiceConfig | None = None, queue: JobQueue | None = None):
        if articulator is None:
            from ..articulator import Articulator
            articulator = Articulator()
        self.articulator = articulator
        self.cfg = cfg or ServiceConfig()
        self.queue = queue or JobQueue(self.cfg.workers, self.cfg.queue_capacity)
        self.uploads = UploadStore(self.cfg.upload_store_bytes, self.cfg.upload_ttl_s)

    # ------------------------------------------------------------------ helpers
    def _plan(self, planner, req) -> Plan:
        return planner(req, articulator=self.articulator, uploads=self.uploads, cfg=self.cfg)

    def _abort(self, context, code: grpc.StatusCode, message: str, field: str = ""):
        if field:
            context.set_trailing_metadata(((FIELD_METADATA_KEY, field),))
        context.abort(code, f"{field}: {message}" if field else message)

    def _final_event(self, code: grpc.StatusCode, message: str, field: str = "") -> spb.JobEvent:
        return spb.JobEvent(final=spb.FinalStatus(code=code.value[0], message=message, field=field))

    def _submit(self, plan: Plan, context, *, label: str = "", bind_to_call: bool) -> Job:
        deadline = None
        if bind_to_call:
            remaining = context.time_remaining()
            if remaining is not None:
                deadline = time.monotonic() + remaining
        job = Job(plan.kind, plan.run, label=label, deadline=deadline)
        if plan.cleanup:
            fn = plan.run

            def run_then_clean(j, fn=fn, cleanup=tuple(plan.cleanup)):
                try:
                    fn(j)
                finally:
                    for c in cleanup:
                        c()
            job.fn = run_then_clean
        self.queue.submit(job)
        if bind_to_call:
            def on_done(job=job):
                if job.deadline is not None and time.monotonic() >= job.deadline - 0.01:
                    job.cancel(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
                else:
                    job.cancel(grpc.StatusCode.CANCELLED, "the client cancelled the call")
            context.add_callback(on_done)
        return job

    def _follow(self, job: Job, context, start: int = 0):
        i = start
        while True:
            events, done = job.wait(i, 0.25)
            for ev in events:
                yield ev
            i += len(events)
            if done and i >= len(job.events):
                break
            if not context.is_active():
                return
        final = job.events[-1].final
        if final.code != 0:
            self._abort(context, _CODES.get(final.code, grpc.StatusCode.UNKNOWN), final.message, final.field)

    def _stream(self, planner, request, context):
        try:
            plan = self._plan(planner, request)
            job = self._submit(plan, context, bind_to_call=True)
        except InvalidInputError as e:
            field = e.field or ""
            yield self._final_event(grpc.StatusCode.INVALID_ARGUMENT, str(e), field)
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e), field)
            return
        except QueueFull as e:
            yield self._final_event(grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
            self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
            return
        except QueueClosed as e:
            yield self._final_event(grpc.StatusCode.UNAVAILABLE, str(e))
            self._abort(context, grpc.StatusCode.UNAVAILABLE, str(e))
            return
        except NotImplementedError as e:
            yield self._final_event(grpc.StatusCode.UNIMPLEMENTED, str(e))
            self._abort(context, grpc.StatusCode.UNIMPLEMENTED, str(e))
            return
        try:
            yield from self._follow(job, context)
        finally:
            if job.done:
                self.queue.forget(job)  # its events (results, file chunks) are not kept after the call
            else:
                job.cancel(grpc.StatusCode.CANCELLED, "the call ended")

    # ------------------------------------------------------------------ RPCs
    def Rig(self, request, context):
        return self._stream(plan_rig, request, context)

    def RigFromMotion(self, request, context):
        return self._stream(plan_rig_from_motion, request, context)

    def ArticulateParts(self, request, context):
        return self._stream(plan_articulate, request, context)

    def Upload(self, request_iterator, context):
        header, chunks, size, end = None, [], 0, None
        for i, msg in enumerate(request_iterator):
            part = msg.WhichOneof("part")
            if part is None:
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "empty chunk", f"chunks[{i}]")
            if i == 0 and part != "header":
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the first chunk must be a header", "header")
            if part == "header":
                if i != 0:
                    self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a second header", f"chunks[{i}].header")
                header = msg.header
                if header.total_size > self.cfg.max_upload_bytes:
                    self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"upload of {header.total_size} bytes exceeds the limit of {self.cfg.max_upload_bytes}")
            elif part == "data":
                if end is not None:
                    self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "data after end", f"chunks[{i}].data")
                size += len(msg.data)
                if size > self.cfg.max_upload_bytes or (header.total_size and size > header.total_size):
                    self._abort(context, grpc.StatusCode.INVALID_ARGUMENT if size <= self.cfg.max_upload_bytes
                                else grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"received {size} bytes, more than announced ({header.total_size}) or allowed "
                                f"({self.cfg.max_upload_bytes})", f"chunks[{i}].data")
                chunks.append(msg.data)
            else:
                end = msg.end
        if header is None:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no header", "header")
        if end is None:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the upload ended without an end chunk", "end")
        if header.total_size and size != header.total_size:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                        f"received {size} bytes, the header announced {header.total_size}", "header.total_size")
        data = b"".join(chunks)
        digest = hashlib.sha256(data).hexdigest()
        if end.sha256 and end.sha256.lower() != digest:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"sha256 mismatch (data hashes to {digest})",
                        "end.sha256")
        try:
            u = self.uploads.put(header.filename, header.content_type, data)
        except QueueFull as e:
            self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
        return spb.UploadResponse(upload_id=u.id, size=len(data), sha256=u.sha256, expires_in_s=self.cfg.upload_ttl_s)

    def SubmitJob(self, request, context):
        kind = request.WhichOneof("task")
        try:
            if kind is None:
                raise InvalidInputError("no task given (set rig, rig_from_motion, articulate_parts or generic)",
                                        field="task")
            if kind == "generic":
                planner = GENERIC_TASKS.get(request.generic.task)
                if planner is None:
                    self._abort(context, grpc.StatusCode.UNIMPLEMENTED,
                                f"unknown task '{request.generic.task[:64]}'; this server runs: "
                                f"{', '.join(self.tasks())}", "generic.task")
                plan = planner(request.generic, articulator=self.articulator, uploads=self.uploads, cfg=self.cfg)
            else:
                planner = {"rig": plan_rig, "rig_from_motion": plan_rig_from_motion,
                           "articulate_parts": plan_articulate}[kind]
                plan = self._plan(planner, getattr(request, kind))
            job = self._submit(plan, context, label=request.label[:256], bind_to_call=False)
        except InvalidInputError as e:
            field = f"{kind}.{e.field}" if kind and e.field and kind != "generic" else (e.field or "")
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e), field)
        except QueueFull as e:
            self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
        except QueueClosed as e:
            self._abort(context, grpc.StatusCode.UNAVAILABLE, str(e))
        except NotImplementedError as e:
            self._abort(context, grpc.StatusCode.UNIMPLEMENTED, str(e))
        return job.handle(self.queue.position(job))

    def _job(self, job_id: str, context) -> Job:
        job = self.queue.get(job_id)
        if job is None:
            self._abort(context, grpc.StatusCode.NOT_FOUND, f"no job '{job_id[:64]}' (unknown or expired)", "job_id")
        return job

    def WatchJob(self, request, context):
        job = self._job(request.job_id, context)
        start = 0 if request.from_start else len(job.events)
        if job.done and start >= len(job.events):
            start = len(job.events) - 1  # a finished job still tells its outcome
        yield from self._follow(job, context, start)

    def CancelJob(self, request, context):
        job = self._job(request.job_id, context)
        job.cancel(grpc.StatusCode.CANCELLED, "cancelled by CancelJob")
        return job.handle(self.queue.position(job))

    def GetJob(self, request, context):
        job = self._job(request.job_id, context)
        return job.handle(self.queue.position(job))

    def tasks(self) -> list[str]:
        """Tasks whose SDK modules are present in this build."""
        import importlib.util
        mods = {"rig": "sdk.rigging", "rig_from_motion": "sdk.motionrig.pipeline",
                "articulate_parts": "sdk.articulation.articulate"}
        have = [t for t, m in mods.items() if importlib.util.find_spec(m) is not None]
        return have + sorted(GENERIC_TASKS)

    def GetServerInfo(self, request, context):
        from .. import __version__
        from ..rigging import METHODS
        c = self.cfg
        return spb.ServerInfo(sdk_version=__version__, api_version=API_VERSION, max_receive_message_bytes=c.max_receive_bytes,
                              max_send_message_bytes=c.max_send_bytes, chunk_bytes=c.chunk_bytes,
                              max_upload_bytes=c.max_upload_bytes, workers=self.queue.workers,
                              queue_capacity=self.queue.capacity, tasks=self.tasks(), methods=list(METHODS),
                              auth_required=c.auth_required, tls=c.tls)
