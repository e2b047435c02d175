"""``RemoteArticulator``: :class:`sdk.Articulator`'s methods, run by an ``articulate serve`` server.

Switch a studio tool from local to remote by changing one line::

    art = sdk.Articulator()                                            # local
    art = sdk.client.RemoteArticulator("rigbox:50051", token="...")    # remote

    rig = art.rig("samples/critter.obj", method="harmonic", progress=print)

Inputs are read and checked on the caller's side exactly as the local facade does (same loaders,
same part resolution), then sent as full-precision arrays, so both give the same rig. Errors come
back as the SDK's own types: ``INVALID_ARGUMENT`` raises :class:`~sdk.errors.InvalidInputError`
with ``.field`` set to the request field; other failures raise :class:`RemoteError` (``.code``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Iterable

import grpc
import numpy as np

from .core import Articulation, Mesh, PartLabels, Rig
from .errors import ArticulateError, InvalidInputError

Progress = Callable[[float, str], None]

_FORMATS = {"usda": 1, "usdc": 2, "glb": 3, "urdf": 4, "usdz": 5}


class RemoteWarning(UserWarning):
    """A warning the SDK raised on the server while running this call (text: '<Category>: message')."""


class RemoteError(ArticulateError):
    """A call failed on the server (or on the way); ``code`` is the grpc.StatusCode."""

    def __init__(self, code: grpc.StatusCode, message: str, field: str | None = None):
        self.code, self.field = code, field
        super().__init__(f"{code.name}: {message}")


def _modules():
    from . import wire as convert
    from .server.gen.articulate.services.v1 import articulate_service_pb2 as spb
    from .server.gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc
    return convert, spb, sgrpc


def _error(code: grpc.StatusCode, message: str, field: str | None) -> ArticulateError:
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        prefix = f"{field}: "
        if field and message.startswith(prefix):
            message = message[len(prefix):]
        return InvalidInputError(message, field=field or None)
    return RemoteError(code, message, field or None)


def _from_rpc_error(e: grpc.RpcError) -> ArticulateError:
    field = None
    try:
        for k, v in e.trailing_metadata() or ():
            if k == "articulate-field":
                field = v
    except Exception:  # noqa: BLE001 - some errors carry no trailing metadata
        pass
    return _error(e.code(), e.details() or "", field)


class RemoteArticulator:
    """Client of ``articulate.services.v1.ArticulateService`` with the :class:`sdk.Articulator` methods.

    target: "host:port". token: bearer token (or None). root_certificates: PEM bytes of the CA that
    signed the server's certificate, which enables TLS (``tls=True`` uses the system roots).
    timeout: default deadline in seconds for each call (None = none).
    """

    def __init__(self, target: str, token: str | None = None, *, root_certificates: bytes | None = None,
                 tls: bool | None = None, timeout: float | None = None, max_message_bytes: int = 64 << 20,
                 chunk_bytes: int = 1 << 20, server_name: str | None = None):
        convert, spb, sgrpc = _modules()
        self._convert, self._spb = convert, spb
        self.target, self.timeout, self.chunk_bytes = target, timeout, chunk_bytes
        self.max_message_bytes = max_message_bytes
        opts = [("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes)]
        if server_name:
            opts.append(("grpc.ssl_target_name_override", server_name))
        if root_certificates is not None or tls:
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates), options=opts)
        else:
            self.channel = grpc.insecure_channel(target, options=opts)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.stub = sgrpc.ArticulateServiceStub(self.channel)

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _timeout(self, timeout):
        return self.timeout if timeout is None else timeout

    def _unary(self, method, request, timeout=None):
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout(timeout))
        except grpc.RpcError as e:
            raise _from_rpc_error(e) from None

    def _run_stream(self, call, progress: Progress | None):
        """Consume a JobEvent stream: (result event, {file name: bytes}); raises on a non-OK final status."""
        result, files, current, buf = None, {}, None, []
        rheader, rbuf = None, []
        try:
            for ev in call:
                kind = ev.WhichOneof("event")
                if kind == "progress":
                    if progress is not None:
                        progress(ev.progress.fraction, ev.progress.message)
                elif kind in ("rig", "articulation"):
                    result = ev
                elif kind == "result_header":  # a large result, sent in pieces
                    rheader, rbuf = ev.result_header, []
                elif kind == "result_chunk":
                    rbuf.append(ev.result_chunk)
                    if rheader is not None and sum(map(len, rbuf)) >= rheader.total_size:
                        result = self._assemble_result(rheader, rbuf)
                        rheader, rbuf = None, []
                elif kind == "warning":
                    import warnings
                    warnings.warn(ev.warning, RemoteWarning, stacklevel=3)
                elif kind == "blob_header":
                    current, buf = ev.blob_header, []
                elif kind == "blob_chunk":
                    buf.append(ev.blob_chunk)
                elif kind == "blob_end":
                    data = b"".join(buf)
                    if current.sha256 and hashlib.sha256(data).hexdigest() != current.sha256:
                        raise RemoteError(grpc.StatusCode.DATA_LOSS, f"file {current.name} arrived corrupted")
                    files[current.name] = data
                elif kind == "final":
                    f = ev.final
                    if f.code != 0:
                        code = next((c for c in grpc.StatusCode if c.value[0] == f.code), grpc.StatusCode.UNKNOWN)
                        call.cancel()
                        raise _error(code, f.message, f.field or None)
        except grpc.RpcError as e:
            raise _from_rpc_error(e) from None
        if result is None:
            raise RemoteError(grpc.StatusCode.INTERNAL, "the server ended the call without a result")
        return result, files

    def _assemble_result(self, header, chunks):
        """A JobEvent holding the result that arrived as result_chunk events (size and sha256 checked)."""
        spb = self._spb
        data = b"".join(chunks)
        chunks.clear()
        if len(data) != header.total_size or (header.sha256 and hashlib.sha256(data).hexdigest() != header.sha256):
            raise RemoteError(grpc.StatusCode.DATA_LOSS, "the chunked result arrived corrupted")
        if header.message_type.endswith("ArticulationResult"):
            return spb.JobEvent(articulation=spb.ArticulationResult.FromString(data))
        return spb.JobEvent(rig=spb.RigResult.FromString(data))

    def _mesh_input(self, mesh: Mesh):
        """Inline mesh, or an upload when it would not fit comfortably in one message."""
        spb = self._spb
        m = self._convert.mesh_to_proto(mesh, precision="f64")
        if m.ByteSize() < self.max_message_bytes // 2:
            return spb.MeshInput(mesh=m)
        uid = self.upload(m.SerializeToString(), filename=f"{mesh.name}.pb",
                          content_type="application/x-protobuf; message=articulate.rig.v1.Mesh")
        return spb.MeshInput(upload_id=uid)

    def _export(self, formats: Iterable[str], up_axis: str = "Y", meters_per_unit: float = 1.0, animations: bool = True):
        out = []
        for f in formats:
            if f.lower().lstrip(".") not in _FORMATS:
                raise InvalidInputError(f"unknown export format '{f}' (use {', '.join(_FORMATS)})", field="formats")
            out.append(_FORMATS[f.lower().lstrip(".")])
        return self._spb.ExportOptions(formats=out, up_axis=up_axis, meters_per_unit=meters_per_unit,
                                       skip_animations=not animations)

    # ------------------------------------------------------------------ uploads, jobs, info
    def upload(self, data: bytes, *, filename: str, content_type: str = "application/octet-stream",
               timeout: float | None = None) -> str:
        """Send bytes in chunks (header, data..., end with sha256); returns the upload id."""
        spb = self._spb

        def chunks():
            yield spb.UploadChunk(header=spb.UploadHeader(filename=filename, content_type=content_type,
                                                          total_size=len(data)))
            for i in range(0, len(data), self.chunk_bytes):
                yield spb.UploadChunk(data=data[i:i + self.chunk_bytes])
            yield spb.UploadChunk(end=spb.UploadEnd(sha256=hashlib.sha256(data).hexdigest()))
        try:
            return self.stub.Upload(chunks(), metadata=self._metadata, timeout=self._timeout(timeout)).upload_id
        except grpc.RpcError as e:
            raise _from_rpc_error(e) from None

    def upload_file(self, path, timeout: float | None = None, content_type: str = "application/octet-stream") -> str:
        """Send a file in chunks, read from disk as they go (never the whole file in memory)."""
        spb, p = self._spb, Path(path)
        size = p.stat().st_size
        h = hashlib.sha256()

        def chunks():
            yield spb.UploadChunk(header=spb.UploadHeader(filename=p.name, content_type=content_type, total_size=size))
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(self.chunk_bytes), b""):
                    h.update(block)
                    yield spb.UploadChunk(data=block)
            yield spb.UploadChunk(end=spb.UploadEnd(sha256=h.hexdigest()))
        try:
            return self.stub.Upload(chunks(), metadata=self._metadata, timeout=self._timeout(timeout)).upload_id
        except grpc.RpcError as e:
            raise _from_rpc_error(e) from None

    def delete_upload(self, upload_id: str, timeout: float | None = None) -> int:
        """Free an upload now; returns the bytes freed."""
        return self._unary(self.stub.DeleteUpload, self._spb.DeleteUploadRequest(upload_id=upload_id), timeout).freed_bytes

    def server_info(self, timeout: float | None = None):
        return self._unary(self.stub.GetServerInfo, self._spb.GetServerInfoRequest(), timeout)

    def health(self, service: str = "", timeout: float | None = 5.0) -> str:
        """'SERVING', 'NOT_SERVING', ... from grpc.health.v1."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        r = health_pb2_grpc.HealthStub(self.channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                           timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    def submit(self, task: str, request, *, label: str = "", timeout: float | None = None):
        """Queue a job (task: rig | rig_from_motion | articulate_parts, request: its message); returns a JobHandle."""
        kw = {task: request}
        return self._unary(self.stub.SubmitJob, self._spb.SubmitJobRequest(label=label, **kw), timeout)

    def watch(self, job_id: str, progress: Progress | None = None, *, timeout: float | None = None):
        """Follow a job to its end: (result event, files)."""
        call = self.stub.WatchJob(self._spb.WatchJobRequest(job_id=job_id, from_start=True),
                                  metadata=self._metadata, timeout=self._timeout(timeout))
        return self._run_stream(call, progress)

    def cancel(self, job_id: str, timeout: float | None = None):
        return self._unary(self.stub.CancelJob, self._spb.CancelJobRequest(job_id=job_id), timeout)

    def job(self, job_id: str, timeout: float | None = None):
        return self._unary(self.stub.GetJob, self._spb.GetJobRequest(job_id=job_id), timeout)

    # ------------------------------------------------------------------ the Articulator methods
    def rig_request(self, asset, parts=None, *, method: str | None = None, max_influences: int = 4,
                    max_bones: int | None = None, root=None, quantize_bits: int | None = None,
                    parts_from_skin: bool = False, template: str | None = None, naming: str = "ue5",
                    formats: Iterable[str] = (), up_axis: str = "Y", include_mesh: bool = False):
        """(RigRequest, local Mesh): the request :meth:`rig` sends, for jobs and custom calls.

        As the local facade: a plain mesh (no parts given or carried, or ``template`` set) is sent without parts,
        with ``template``/``naming``, and the server rigs it by template embedding (sdk.autorig)."""
        from .articulator import as_asset, resolve_parts
        a = as_asset(asset)
        spb = self._spb
        export = self._export(formats, up_axis)
        plain = parts is None and not parts_from_skin and (a.parts is None or a.parts.n_parts < 2)
        if template is not None or plain:
            # template/naming/method are checked on the server (once; errors name the request field)
            req = spb.RigRequest(input=self._mesh_input(a.mesh), part_source=spb.PART_SOURCE_UNSPECIFIED,
                                 method=method or "", template=template or "auto", naming=naming or "",
                                 max_influences=max_influences, max_bones=max_bones or 0,
                                 root="" if root is None else str(root), quantize_bits=quantize_bits or 0,
                                 export=export, include_mesh=include_mesh)
            return req, a.mesh
        # the mesh itself is checked on the server (once; errors name the request field, e.g. input.mesh.vertices[5])
        pl = resolve_parts(a, parts, parts_from_skin=parts_from_skin)
        req = spb.RigRequest(input=self._mesh_input(a.mesh), parts=self._convert.parts_to_proto(pl),
                             part_source=spb.PART_SOURCE_INLINE, method=method or "",
                             max_influences=max_influences, max_bones=max_bones or 0,
                             root="" if root is None else str(root), quantize_bits=quantize_bits or 0,
                             export=export, include_mesh=include_mesh)
        return req, a.mesh

    def rig(self, asset, parts=None, *, method: str | None = None, max_influences: int = 4,
            max_bones: int | None = None, root=None, quantize_bits: int | None = None, parts_from_skin: bool = False,
            template: str | None = None, naming: str = "ue5", progress: Progress | None = None,
            timeout: float | None = None) -> Rig:
        """Skeleton + skin weights; same arguments as :meth:`sdk.Articulator.rig` (a parted mesh from its parts,
        a plain mesh -- or ``template`` given -- by template embedding with ``naming`` bone names)."""
        rig, _ = self.rig_files(asset, parts, method=method, max_influences=max_influences, max_bones=max_bones,
                                root=root, quantize_bits=quantize_bits, parts_from_skin=parts_from_skin,
                                template=template, naming=naming, progress=progress, timeout=timeout)
        return rig

    def rig_files(self, asset, parts=None, *, formats: Iterable[str] = (), up_axis: str = "Y",
                  progress: Progress | None = None, timeout: float | None = None, **kw) -> tuple[Rig, dict[str, bytes]]:
        """:meth:`rig` plus the rig as files made on the server (formats: usda, usdc, glb, usdz) -> {name: bytes}.

        The mesh travels with its first UV set only; an uploaded asset file (``upload`` + ``MeshInput.upload_id``)
        keeps its materials and textures, which come back inside glb and usdz (a usda/usdc names a texture folder
        next to it, which is not returned)."""
        req, mesh = self.rig_request(asset, parts, formats=formats, up_axis=up_axis, **kw)
        call = self.stub.Rig(req, metadata=self._metadata, timeout=self._timeout(timeout))
        ev, files = self._run_stream(call, progress)
        rig = self._convert.rig_from_proto(ev.rig.rig, mesh)
        src = asset if isinstance(asset, (str, Path)) else getattr(asset, "path", None)
        rig.metadata["source"] = str(src) if src else None  # as the local facade records it
        return rig, files

    def rig_from_motion(self, sequence, *, max_bones: int | None = None, max_influences: int = 4,
                        progress: Progress | None = None, timeout: float | None = None, formats: Iterable[str] = (),
                        **kw) -> Rig:
        """Skinned skeleton + animation from a mesh sequence (path, MeshSequence or [T,V,3] + faces=...)."""
        rig, files = self.rig_from_motion_files(sequence, max_bones=max_bones, max_influences=max_influences,
                                                progress=progress, timeout=timeout, formats=formats, **kw)
        return rig

    def rig_from_motion_files(self, sequence, *, max_bones: int | None = None, max_influences: int = 4,
                              progress: Progress | None = None, timeout: float | None = None,
                              formats: Iterable[str] = (), clip: str | None = None, faces=None, fps=None):
        spb = self._spb
        if isinstance(sequence, (str, Path)):
            from .io import load_sequence
            seq = load_sequence(sequence, clip=clip, fps=fps)
            verts, faces, fps, name = seq.vertices, seq.faces, seq.fps, seq.name
        elif hasattr(sequence, "vertices") and np.asarray(sequence.vertices).ndim == 3:
            verts, faces, fps, name = sequence.vertices, sequence.faces, sequence.fps, getattr(sequence, "name", "sequence")
        else:
            verts, name = np.asarray(sequence, dtype=np.float64), "sequence"
        verts = np.asarray(verts, dtype=np.float64)
        if verts.ndim != 3 or verts.shape[-1] != 3:
            raise InvalidInputError(f"a sequence is vertices [T, V, 3]; got shape {verts.shape}", field="sequence")
        msg = self._convert.motion_to_proto(verts, faces, fps or 30.0, name, precision="f64")
        if msg.ByteSize() < self.max_message_bytes // 2:
            motion = spb.MotionInput(sequence=msg)
        else:
            motion = spb.MotionInput(upload_id=self.upload(
                msg.SerializeToString(), filename=f"{name}.pb",
                content_type="application/x-protobuf; message=articulate.rig.v1.MotionSequence"))
        req = spb.RigFromMotionRequest(motion=motion, max_parts=max_bones or 0, max_influences=max_influences,
                                       export=self._export(formats), include_mesh=True)
        call = self.stub.RigFromMotion(req, metadata=self._metadata, timeout=self._timeout(timeout))
        ev, files = self._run_stream(call, progress)
        rig = self._convert.rig_from_proto(ev.rig.rig)
        if ev.rig.report:
            rig.metadata["report"] = self._convert._from_json_map(ev.rig.report)
        return rig, files

    def articulate(self, asset, part: str | int | None = None, *, prompt: str | None = None,
                   prompts: dict | None = None, all_parts: bool = False, progress: Progress | None = None,
                   timeout: float | None = None) -> Articulation:
        """Joints of a prop: one part or every movable part; same arguments as :meth:`sdk.Articulator.articulate`."""
        art, _ = self.articulate_files(asset, part, prompt=prompt, prompts=prompts, all_parts=all_parts,
                                       progress=progress, timeout=timeout)
        return art

    def articulate_files(self, asset, part: str | int | None = None, *, prompt: str | None = None,
                         prompts: dict | None = None, all_parts: bool = False, progress: Progress | None = None,
                         timeout: float | None = None, formats: Iterable[str] = ()):
        from .articulator import as_asset
        spb = self._spb
        a = as_asset(asset)
        if a.parts is None:
            raise InvalidInputError("the asset has no parts (sub-meshes/groups) to articulate", field="parts")
        if not all_parts and part is None:
            raise InvalidInputError("give a part name/id or all_parts=True", field="part")
        if not all_parts:
            prompts = {part: prompt}
        pps = [spb.PartPrompt(part=str(k), prompt=v or "") for k, v in (prompts or {}).items()]
        req = spb.ArticulatePartsRequest(input=self._mesh_input(a.mesh), parts=self._convert.parts_to_proto(a.parts),
                                         part_source=spb.PART_SOURCE_INLINE, prompts=pps, all_parts=all_parts,
                                         export=self._export(formats), include_meshes=True)
        call = self.stub.ArticulateParts(req, metadata=self._metadata, timeout=self._timeout(timeout))
        ev, files = self._run_stream(call, progress)
        return self._convert.articulation_from_proto(ev.articulation.articulation), files
