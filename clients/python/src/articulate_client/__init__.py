"""Torch-free client of ``articulate.services.v1.ArticulateService`` (grpcio + protobuf + numpy).

    from articulate_client import ArticulateClient
    with ArticulateClient("127.0.0.1:50051", token="...") as c:
        rig = c.rig_file("critter.obj", formats=["glb"])        # parts from the OBJ's groups, files made remotely
        rig.files["rig.glb"]

Everything heavy happens on the server; this module only packs arrays, follows the event stream
(progress, result, chunked result, export files, final status) and unpacks the result.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import grpc
import numpy as np

from ._gen.articulate.rig.v1 import rig_pb2 as pb
from ._gen.articulate.services.v1 import articulate_service_pb2 as spb
from ._gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc

__version__ = "0.1.0"
__all__ = ["ArticulateClient", "RigResult", "ArticulationResult", "Joint", "RemoteError", "parse_target"]

Progress = Callable[[float, str], None]
FORMATS = {"usda": spb.EXPORT_FORMAT_USDA, "usdc": spb.EXPORT_FORMAT_USDC, "glb": spb.EXPORT_FORMAT_GLB,
           "urdf": spb.EXPORT_FORMAT_URDF, "usdz": spb.EXPORT_FORMAT_USDZ}
PART_SOURCES = {"inline": spb.PART_SOURCE_INLINE, "asset": spb.PART_SOURCE_ASSET, "skin": spb.PART_SOURCE_SKIN,
                "auto": spb.PART_SOURCE_UNSPECIFIED}
MESH_CONTENT_TYPE = "application/x-protobuf; message=articulate.rig.v1.Mesh"
_CODES = {c.value[0]: c for c in grpc.StatusCode}
_JOINT_TYPES = {pb.JOINT_TYPE_FIXED: "fixed", pb.JOINT_TYPE_REVOLUTE: "revolute", pb.JOINT_TYPE_CONTINUOUS: "continuous",
                pb.JOINT_TYPE_PRISMATIC: "prismatic", pb.JOINT_TYPE_SPHERICAL: "spherical"}


class RemoteError(Exception):
    """A call failed on the server or on the way. ``code``: grpc.StatusCode; ``field``: the request field at fault."""

    def __init__(self, code: grpc.StatusCode, message: str, field: str | None = None):
        self.code, self.message, self.field = code, message, field or None
        super().__init__(f"{code.name}: {message}")


@dataclass
class RigResult:
    joint_names: list[str]
    parents: np.ndarray          # [J] -1 for roots
    rest_local: np.ndarray       # [J, 4, 4]
    bind_world: np.ndarray       # [J, 4, 4] column vectors, translation in the last column
    skin_indices: np.ndarray     # [V, k]
    skin_weights: np.ndarray     # [V, k]
    part_labels: np.ndarray | None
    part_names: list[str]
    joint_parts: np.ndarray | None
    metadata: dict
    report: dict
    vertices: np.ndarray | None  # [V, 3] when the server echoed the bound mesh
    faces: np.ndarray | None
    files: dict[str, bytes] = field(default_factory=dict)
    job_id: str = ""


@dataclass
class Joint:
    name: str
    type: str
    parent: str
    child: str
    origin: np.ndarray           # [3]
    axis: np.ndarray             # [3] unit
    lower: float
    upper: float
    confidence: float
    extra: dict


@dataclass
class ArticulationResult:
    name: str
    links: list[str]
    joints: list[Joint]
    meters_per_unit: float
    link_meshes: dict[str, tuple[np.ndarray, np.ndarray]]
    files: dict[str, bytes] = field(default_factory=dict)
    job_id: str = ""

    @property
    def root(self) -> str:
        children = {j.child for j in self.joints}
        return next((name for name in self.links if name not in children), self.links[0] if self.links else "")

    def movable_joints(self) -> list[Joint]:
        return [j for j in self.joints if j.type != "fixed"]


def parse_target(target: str) -> str:
    """'host:port', '[v6]:port', 'dns:///host:port' or a bare host (port 50051) -> a gRPC target."""
    t = target.strip()
    for scheme in ("http://", "https://", "grpc://"):
        if t.startswith(scheme):
            t = t[len(scheme):]
    t = t.rstrip("/")
    if not t:
        raise ValueError("empty target (expected host:port)")
    if "://" in t or t.startswith(("unix:", "dns:", "ipv4:", "ipv6:")):
        return t
    if t.startswith("["):
        return t if "]:" in t else f"{t}:50051"
    if t.count(":") == 1:
        host, port = t.split(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad port in target {target!r}")
        return t
    if ":" in t:  # a bare IPv6 address
        return f"[{t}]:50051"
    return f"{t}:50051"


def _json_map(m) -> dict:
    out = {}
    for k, v in m.items():
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def _mats(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 4, 4)


def mesh_message(vertices, faces, name: str = "mesh") -> pb.Mesh:
    v = np.ascontiguousarray(vertices, dtype="<f8").reshape(-1, 3)
    f = np.ascontiguousarray(faces, dtype="<u4").reshape(-1, 3)
    return pb.Mesh(name=name, vertices_f64le=v.tobytes(), faces_u32le=f.tobytes())


def parts_message(labels, names: Iterable[str] | None = None) -> pb.PartLabels:
    lab = np.ascontiguousarray(labels, dtype="<i4").reshape(-1)
    names = list(names) if names is not None else [f"part_{i}" for i in range(int(lab.max()) + 1 if len(lab) else 0)]
    return pb.PartLabels(labels_i32le=lab.tobytes(), names=names)


def rig_from_message(r: pb.Rig, report=None) -> RigResult:
    k = max(int(r.skin.influences), 1)
    mesh_v = mesh_f = None
    if r.HasField("mesh"):
        kind = r.mesh.WhichOneof("positions")
        if kind == "vertices_f64le":
            mesh_v = np.frombuffer(r.mesh.vertices_f64le, dtype="<f8").reshape(-1, 3)
        elif kind == "vertices_f32le":
            mesh_v = np.frombuffer(r.mesh.vertices_f32le, dtype="<f4").reshape(-1, 3).astype(np.float64)
        mesh_f = np.frombuffer(r.mesh.faces_u32le, dtype="<u4").reshape(-1, 3).astype(np.int64)
    labels = (np.frombuffer(r.parts.labels_i32le, dtype="<i4").astype(np.int64) if r.HasField("parts") else None)
    return RigResult(
        joint_names=list(r.skeleton.names), parents=np.asarray(r.skeleton.parents, dtype=np.int64),
        rest_local=_mats(r.skeleton.rest_local), bind_world=_mats(r.skeleton.bind_world),
        skin_indices=np.frombuffer(r.skin.joint_indices_u32le, dtype="<u4").reshape(-1, k).astype(np.int64),
        skin_weights=np.frombuffer(r.skin.weights_f32le, dtype="<f4").reshape(-1, k),
        part_labels=labels, part_names=list(r.parts.names) if r.HasField("parts") else [],
        joint_parts=np.asarray(r.joint_parts, dtype=np.int64) if len(r.joint_parts) else None,
        metadata=_json_map(r.metadata), report=_json_map(report or {}), vertices=mesh_v, faces=mesh_f)


def articulation_from_message(a: pb.Articulation) -> ArticulationResult:
    meshes = {}
    for lk in a.links:
        if lk.HasField("mesh") and lk.mesh.WhichOneof("positions") == "vertices_f64le":
            meshes[lk.name] = (np.frombuffer(lk.mesh.vertices_f64le, dtype="<f8").reshape(-1, 3),
                               np.frombuffer(lk.mesh.faces_u32le, dtype="<u4").reshape(-1, 3).astype(np.int64))
    joints = [Joint(j.name, _JOINT_TYPES.get(j.type, "fixed"), j.parent, j.child, np.asarray(j.origin, float),
                    np.asarray(j.axis, float), j.lower, j.upper, j.confidence, _json_map(j.extra)) for j in a.joints]
    return ArticulationResult(a.name, [lk.name for lk in a.links], joints, a.meters_per_unit or 1.0, meshes)


class ArticulateClient:
    """Calls an ``articulate serve`` server. target: "host:port"; token: bearer token; timeout: default deadline (s)."""

    def __init__(self, target: str, token: str | None = None, *, root_certificates: bytes | None = None,
                 tls: bool = False, timeout: float | None = None, max_message_bytes: int = 64 << 20,
                 chunk_bytes: int = 1 << 20):
        self.target = parse_target(target)
        self.timeout, self.chunk_bytes, self.max_message_bytes = timeout, chunk_bytes, max_message_bytes
        opts = [("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes)]
        if root_certificates is not None or tls:
            self.channel = grpc.secure_channel(self.target, grpc.ssl_channel_credentials(root_certificates), options=opts)
        else:
            self.channel = grpc.insecure_channel(self.target, options=opts)
        self._md = (("authorization", f"Bearer {token}"),) if token else ()
        self.stub = sgrpc.ArticulateServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _t(self, timeout):
        return self.timeout if timeout is None else timeout

    @staticmethod
    def _error(e: grpc.RpcError) -> RemoteError:
        field = None
        try:
            field = dict(e.trailing_metadata() or ()).get("articulate-field")
        except Exception:  # noqa: BLE001
            pass
        msg = e.details() or ""
        if field and msg.startswith(f"{field}: "):
            msg = msg[len(field) + 2:]
        return RemoteError(e.code(), msg, field)

    def _unary(self, method, request, timeout=None):
        try:
            return method(request, metadata=self._md, timeout=self._t(timeout))
        except grpc.RpcError as e:
            raise self._error(e) from None

    # ------------------------------------------------------------------ plain calls
    def health(self, timeout: float = 5.0) -> str:
        """grpc.health.v1 Check of the whole server: 'SERVING', 'NOT_SERVING', ... (no token needed)."""
        check = self.channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
        try:
            raw = check(b"", timeout=timeout)  # HealthCheckRequest{service: ""}
        except grpc.RpcError as e:
            raise self._error(e) from None
        status = raw[1] if len(raw) >= 2 and raw[0] == 0x08 else 0  # field 1, varint
        return {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}.get(status, str(status))

    def server_info(self, timeout: float | None = None):
        return self._unary(self.stub.GetServerInfo, spb.GetServerInfoRequest(), timeout)

    def upload(self, data: bytes, *, filename: str, content_type: str = "application/octet-stream",
               timeout: float | None = None) -> str:
        def chunks():
            yield spb.UploadChunk(header=spb.UploadHeader(filename=filename, content_type=content_type,
                                                          total_size=len(data)))
            for i in range(0, len(data), self.chunk_bytes):
                yield spb.UploadChunk(data=data[i:i + self.chunk_bytes])
            yield spb.UploadChunk(end=spb.UploadEnd(sha256=hashlib.sha256(data).hexdigest()))
        return self._unary(self.stub.Upload, chunks(), timeout).upload_id

    def upload_file(self, path, *, content_type: str = "application/octet-stream", timeout: float | None = None) -> str:
        """Stream a file from disk (never whole in memory); the server reads it by its extension."""
        p = Path(path)
        size, h = p.stat().st_size, hashlib.sha256()

        def chunks():
            yield spb.UploadChunk(header=spb.UploadHeader(filename=p.name, content_type=content_type, total_size=size))
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(self.chunk_bytes), b""):
                    h.update(block)
                    yield spb.UploadChunk(data=block)
            yield spb.UploadChunk(end=spb.UploadEnd(sha256=h.hexdigest()))
        return self._unary(self.stub.Upload, chunks(), timeout).upload_id

    def delete_upload(self, upload_id: str, timeout: float | None = None) -> int:
        return self._unary(self.stub.DeleteUpload, spb.DeleteUploadRequest(upload_id=upload_id), timeout).freed_bytes

    def cancel_job(self, job_id: str, timeout: float | None = None):
        return self._unary(self.stub.CancelJob, spb.CancelJobRequest(job_id=job_id), timeout)

    # ------------------------------------------------------------------ the event stream
    def _follow(self, call, progress: Progress | None, cancel: threading.Event | None):
        """(result message, files, job id) from a JobEvent stream; raises RemoteError on a non-OK outcome."""
        over = threading.Event()
        if cancel is not None:
            def watch():
                while not over.is_set():
                    if cancel.wait(0.05):
                        call.cancel()
                        return
            threading.Thread(target=watch, name="articulate-cancel", daemon=True).start()
        result, files, job_id = None, {}, ""
        blob, bbuf, rhead, rbuf = None, [], None, []
        try:
            for ev in call:
                job_id = ev.job_id or job_id
                kind = ev.WhichOneof("event")
                if kind == "progress" and progress is not None:
                    progress(ev.progress.fraction, ev.progress.message)
                elif kind in ("rig", "articulation"):
                    result = getattr(ev, kind)
                elif kind == "result_header":
                    rhead, rbuf = ev.result_header, []
                elif kind == "result_chunk":
                    rbuf.append(ev.result_chunk)
                    if rhead is not None and sum(map(len, rbuf)) >= rhead.total_size:
                        data = b"".join(rbuf)
                        rbuf = []
                        if len(data) != rhead.total_size or hashlib.sha256(data).hexdigest() != rhead.sha256:
                            raise RemoteError(grpc.StatusCode.DATA_LOSS, "the chunked result arrived corrupted")
                        cls = spb.ArticulationResult if rhead.message_type.endswith("ArticulationResult") else spb.RigResult
                        result = cls.FromString(data)
                elif kind == "blob_header":
                    blob, bbuf = ev.blob_header, []
                elif kind == "blob_chunk":
                    bbuf.append(ev.blob_chunk)
                elif kind == "blob_end":
                    data = b"".join(bbuf)
                    bbuf = []
                    if blob.sha256 and hashlib.sha256(data).hexdigest() != blob.sha256:
                        raise RemoteError(grpc.StatusCode.DATA_LOSS, f"file {blob.name} arrived corrupted")
                    files[blob.name] = data
                elif kind == "final" and ev.final.code != 0:
                    f = ev.final
                    call.cancel()
                    msg = f.message[len(f.field) + 2:] if f.field and f.message.startswith(f"{f.field}: ") else f.message
                    raise RemoteError(_CODES.get(f.code, grpc.StatusCode.UNKNOWN), msg, f.field)
        except grpc.RpcError as e:
            if cancel is not None and cancel.is_set():
                raise RemoteError(grpc.StatusCode.CANCELLED, "cancelled by the caller") from None
            raise self._error(e) from None
        finally:
            over.set()  # ends the watcher thread
        if result is None:
            raise RemoteError(grpc.StatusCode.INTERNAL, "the server ended the call without a result")
        return result, files, job_id

    def _export(self, formats, up_axis="Y") -> spb.ExportOptions:
        out = []
        for f in formats:
            key = f.lower().lstrip(".")
            if key not in FORMATS:
                raise ValueError(f"unknown export format {f!r} (use {', '.join(FORMATS)})")
            out.append(FORMATS[key])
        return spb.ExportOptions(formats=out, up_axis=up_axis)

    def _mesh_input(self, vertices, faces) -> spb.MeshInput:
        m = mesh_message(vertices, faces)
        if m.ByteSize() < self.max_message_bytes // 2:
            return spb.MeshInput(mesh=m)
        return spb.MeshInput(upload_id=self.upload(m.SerializeToString(), filename="mesh.pb",
                                                   content_type=MESH_CONTENT_TYPE))

    def rig_request(self, *, vertices=None, faces=None, labels=None, part_names=None, upload_id: str | None = None,
                    part_source: str = "inline", method: str = "", max_influences: int = 0, max_bones: int = 0,
                    root: str = "", quantize_bits: int = 0, formats: Iterable[str] = (), up_axis: str = "Y",
                    include_mesh: bool = False, template: str = "", naming: str = "") -> spb.RigRequest:
        """template (auto | biped | quadruped | chain) and naming (ue5 | mixamo | unity | generic): a plain mesh's
        template rig; a request without parts whose mesh carries none is rigged that way too (template auto)."""
        req = spb.RigRequest(method=method, max_influences=max_influences, max_bones=max_bones, root=root,
                             quantize_bits=quantize_bits, export=self._export(formats, up_axis),
                             include_mesh=include_mesh, part_source=PART_SOURCES[part_source],
                             template=template, naming=naming)
        if upload_id is not None:
            req.input.upload_id = upload_id
        else:
            req.input.CopyFrom(self._mesh_input(vertices, faces))
        if labels is not None:
            req.parts.CopyFrom(parts_message(labels, part_names))
        return req

    def run_rig(self, req: spb.RigRequest, *, progress: Progress | None = None, cancel: threading.Event | None = None,
                timeout: float | None = None) -> RigResult:
        call = self.stub.Rig(req, metadata=self._md, timeout=self._t(timeout))
        msg, files, job_id = self._follow(call, progress, cancel)
        out = rig_from_message(msg.rig, msg.report)
        out.files, out.job_id = files, job_id
        return out

    # ------------------------------------------------------------------ the SDK's methods, remotely
    def rig(self, vertices, faces, labels=None, part_names=None, *, method: str = "", max_influences: int = 0,
            max_bones: int = 0, root: str = "", quantize_bits: int = 0, formats: Iterable[str] = (),
            include_mesh: bool = False, template: str = "", naming: str = "", progress: Progress | None = None,
            cancel: threading.Event | None = None, timeout: float | None = None) -> RigResult:
        """Skeleton + skin weights for a parted mesh (vertices [V, 3], faces [F, 3], per-vertex part labels [V]),
        or, with ``labels=None`` (or ``template`` set), for a plain mesh by template embedding: ``template`` auto |
        biped | quadruped | chain, ``naming`` ue5 (default) | mixamo | unity | generic. A template rig may stand
        the mesh upright: pass ``include_mesh=True`` for the mesh it binds (sent anyway when it changed)."""
        req = self.rig_request(vertices=vertices, faces=faces, labels=labels, part_names=part_names, method=method,
                               max_influences=max_influences, max_bones=max_bones, root=root,
                               quantize_bits=quantize_bits, formats=formats, include_mesh=include_mesh,
                               part_source="inline" if labels is not None else "auto", template=template,
                               naming=naming)
        return self.run_rig(req, progress=progress, cancel=cancel, timeout=timeout)

    def rig_file(self, path, *, part_source: str = "asset", method: str = "", max_influences: int = 0,
                 formats: Iterable[str] = ("glb",), include_mesh: bool = True, delete_upload: bool = True,
                 template: str = "", naming: str = "", progress: Progress | None = None,
                 cancel: threading.Event | None = None, timeout: float | None = None) -> RigResult:
        """Upload an asset file (.obj groups / .ply labels: part_source='asset'; a skinned .glb: 'skin') and rig it.
        A plain mesh file: ``template`` (auto | biped | quadruped | chain; parts are then not used) or
        part_source='auto' (its parts when it has some, else template auto); ``naming`` ue5 | mixamo | unity |
        generic."""
        uid = self.upload_file(path, timeout=timeout)
        try:
            req = self.rig_request(upload_id=uid, part_source=part_source, method=method,
                                   max_influences=max_influences, formats=formats, include_mesh=include_mesh,
                                   template=template, naming=naming)
            return self.run_rig(req, progress=progress, cancel=cancel, timeout=timeout)
        finally:
            if delete_upload:
                try:
                    self.delete_upload(uid, timeout=10)
                except RemoteError:
                    pass

    def articulate(self, vertices, faces, labels, part_names, *, parts: Iterable[str] = (), prompts: dict | None = None,
                   all_parts: bool = False, formats: Iterable[str] = (), include_meshes: bool = False,
                   progress: Progress | None = None, cancel: threading.Event | None = None,
                   timeout: float | None = None, upload_id: str | None = None,
                   part_source: str = "inline") -> ArticulationResult:
        """Joints of a prop: the named parts (with optional prompts) or every movable part."""
        prompts = dict(prompts or {})
        for p in parts:
            prompts.setdefault(p, "")
        req = spb.ArticulatePartsRequest(prompts=[spb.PartPrompt(part=str(k), prompt=v or "") for k, v in prompts.items()],
                                         all_parts=all_parts, export=self._export(formats),
                                         include_meshes=include_meshes, part_source=PART_SOURCES[part_source])
        if upload_id is not None:
            req.input.upload_id = upload_id
        else:
            req.input.CopyFrom(self._mesh_input(vertices, faces))
        if labels is not None:
            req.parts.CopyFrom(parts_message(labels, part_names))
        call = self.stub.ArticulateParts(req, metadata=self._md, timeout=self._t(timeout))
        msg, files, job_id = self._follow(call, progress, cancel)
        out = articulation_from_message(msg.articulation)
        out.files, out.job_id = files, job_id
        return out

    def articulate_file(self, path, *, all_parts: bool = True, prompts: dict | None = None,
                        formats: Iterable[str] = (), **kw) -> ArticulationResult:
        uid = self.upload_file(path, timeout=kw.get("timeout"))
        try:
            return self.articulate(None, None, None, None, upload_id=uid, part_source="asset", all_parts=all_parts,
                                   prompts=prompts, formats=formats, **kw)
        finally:
            try:
                self.delete_upload(uid, timeout=10)
            except RemoteError:
                pass
