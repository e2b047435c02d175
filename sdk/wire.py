"""Protobuf <-> SDK data model (both directions), with validation that names the offending field.

Decoding is the server's first line of defence: every ``*_from_proto`` either returns valid SDK
objects or raises :class:`~sdk.errors.InvalidInputError` whose ``field`` is the request path
(``input.mesh.vertices[12]``), which the service maps onto ``INVALID_ARGUMENT``. Nothing here does
heavy work, so the fuzz test drives it directly.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from .core import Animation, Articulation, Joint, Link, Mesh, PartLabels, Rig, Skeleton, SkinWeights
from .errors import InvalidInputError
from .server.gen.articulate.rig.v1 import rig_pb2 as pb

#: hard caps that keep a hostile request from allocating unbounded memory before validation
MAX_VERTICES = 20_000_000
MAX_FACES = 40_000_000
MAX_PARTS = 4096
MAX_FRAMES = 100_000
MAX_NAME = 256

_JOINT_TYPES = {
    "fixed": pb.JOINT_TYPE_FIXED, "revolute": pb.JOINT_TYPE_REVOLUTE, "continuous": pb.JOINT_TYPE_CONTINUOUS,
    "prismatic": pb.JOINT_TYPE_PRISMATIC, "spherical": pb.JOINT_TYPE_SPHERICAL,
}
_JOINT_NAMES = {v: k for k, v in _JOINT_TYPES.items()}


def _err(msg: str, field: str) -> InvalidInputError:
    return InvalidInputError(msg, field=field)


def _array(buf: bytes, dtype: str, width: int, field: str, what: str) -> np.ndarray:
    item = np.dtype(dtype).itemsize * width
    if len(buf) % item:
        raise _err(f"malformed {what}: {len(buf)} bytes is not a multiple of {item} "
                   f"({width} x {np.dtype(dtype).name})", field)
    return np.frombuffer(buf, dtype=dtype).reshape(-1, width) if width > 1 else np.frombuffer(buf, dtype=dtype)


def _rebase(e: InvalidInputError, prefix: str, rename: dict[str, str] | None = None) -> InvalidInputError:
    """Re-raise a core validation error with the request path of the field."""
    f = e.field or ""
    for old, new in (rename or {}).items():
        if f == old or f.startswith(old + "[") or f.startswith(old + "."):
            f = new + f[len(old):]
            break
    else:
        f = f"{prefix}.{f}" if f else prefix
    out = InvalidInputError(str(e), field=f)
    out.__cause__ = e
    return out


def _name(s: str, field: str) -> str:
    if len(s) > MAX_NAME:
        raise _err(f"name is {len(s)} characters long (at most {MAX_NAME})", field)
    return s


# ------------------------------------------------------------------------------------------ mesh

def mesh_from_proto(m: pb.Mesh, field: str = "mesh", *, validate: bool = True) -> Mesh:
    """Decode a Mesh message and check what the wire can get wrong (see :func:`check_mesh`)."""
    kind = m.WhichOneof("positions")
    if kind is None:
        raise _err("mesh has no vertices (set vertices_f32le, vertices_f64le or vertices)", f"{field}.vertices")
    if kind == "vertices_f32le":
        v = _array(m.vertices_f32le, "<f4", 3, f"{field}.vertices_f32le", "vertex bytes")
    elif kind == "vertices_f64le":
        v = _array(m.vertices_f64le, "<f8", 3, f"{field}.vertices_f64le", "vertex bytes")
    else:
        vals = m.vertices.values
        if len(vals) % 3:
            raise _err(f"{len(vals)} vertex values is not a multiple of 3", f"{field}.vertices")
        v = np.asarray(vals, dtype=np.float32).reshape(-1, 3)
    if len(v) > MAX_VERTICES:
        raise _err(f"{len(v)} vertices exceeds the limit of {MAX_VERTICES}", f"{field}.vertices")
    fkind = m.WhichOneof("triangles")
    if fkind is None:
        raise _err("mesh has no faces (set faces_u32le or faces)", f"{field}.faces")
    if fkind == "faces_u32le":
        f = _array(m.faces_u32le, "<u4", 3, f"{field}.faces_u32le", "face bytes")
    else:
        vals = m.faces.values
        if len(vals) % 3:
            raise _err(f"{len(vals)} face indices is not a multiple of 3", f"{field}.faces")
        f = np.asarray(vals, dtype=np.uint32).reshape(-1, 3)
    if len(f) > MAX_FACES:
        raise _err(f"{len(f)} faces exceeds the limit of {MAX_FACES}", f"{field}.faces")
    uvs = None
    if m.uvs_f32le:
        uvs = _array(m.uvs_f32le, "<f4", 2, f"{field}.uvs_f32le", "uv bytes").copy()
        if len(uvs) != len(v):
            raise _err(f"{len(uvs)} uvs for {len(v)} vertices", f"{field}.uvs_f32le")
    mesh = Mesh(v.astype(np.float64), f.astype(np.int64), name=_name(m.name, f"{field}.name") or "mesh", uvs=uvs)
    if validate:
        check_mesh(mesh, field)
    return mesh


def check_mesh(mesh: Mesh, field: str = "mesh") -> Mesh:
    """The request-time mesh checks: vertices and faces present, every vertex finite, every index in range.

    Degenerate (zero-area) faces are left to ``Mesh.validate``, which the SDK methods run and which
    drops them; a mesh whose faces are *all* degenerate fails there, in the job, as INVALID_ARGUMENT
    with the same field path. (Kept cheap: Mesh.validate's area test costs ~1 ms per 1k faces.)
    """
    v, f = mesh.vertices, mesh.faces
    if len(v) == 0:
        raise _err("mesh has no vertices", f"{field}.vertices")
    if len(f) == 0:
        raise _err("mesh has no faces", f"{field}.faces")
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _err(f"vertex {i} is not finite ({v[i].tolist()}); {int(bad.sum())} such vertices",
                   f"{field}.vertices[{i}]")
    if f.min() < 0 or f.max() >= len(v):
        i = int(np.flatnonzero((f < 0).any(1) | (f >= len(v)).any(1))[0])
        raise _err(f"face {i} references vertex out of range {f[i].tolist()} (mesh has {len(v)} vertices)",
                   f"{field}.faces[{i}]")
    return mesh


def rebase_mesh_error(e: InvalidInputError, field: str) -> InvalidInputError:
    """A Mesh.validate error raised inside a job, with the request path of the mesh."""
    f = e.field or ""
    if f == "vertices" or f == "faces" or f.startswith(("vertices[", "faces[")):
        return InvalidInputError(str(e), field=f"{field}.{f}")
    return e


def mesh_to_proto(mesh: Mesh, *, precision: str = "f64") -> pb.Mesh:
    m = pb.Mesh(name=mesh.name, faces_u32le=np.ascontiguousarray(mesh.faces, dtype="<u4").tobytes())
    if precision == "f32":
        m.vertices_f32le = np.ascontiguousarray(mesh.vertices, dtype="<f4").tobytes()
    else:
        m.vertices_f64le = np.ascontiguousarray(mesh.vertices, dtype="<f8").tobytes()
    if mesh.uvs is not None:
        m.uvs_f32le = np.ascontiguousarray(mesh.uvs, dtype="<f4").tobytes()
    return m


# ------------------------------------------------------------------------------------------ parts

def parts_from_proto(p: pb.PartLabels, n_vertices: int, field: str = "parts") -> PartLabels:
    kind = p.WhichOneof("labels")
    if kind is None:
        raise _err("part labels are empty (set labels_i32le or values)", f"{field}.labels")
    if kind == "labels_i32le":
        lab = _array(p.labels_i32le, "<i4", 1, f"{field}.labels_i32le", "label bytes")
    else:
        lab = np.asarray(p.values.values, dtype=np.int64)
    if len(p.names) > MAX_PARTS:
        raise _err(f"{len(p.names)} part names exceeds the limit of {MAX_PARTS}", f"{field}.names")
    names = [_name(n, f"{field}.names[{i}]") for i, n in enumerate(p.names)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if not n:
            raise _err(f"part {i} has an empty name", f"{field}.names[{i}]")
        if n in seen:
            raise _err(f"part name '{n}' is used by parts {seen[n]} and {i}", f"{field}.names[{i}]")
        seen[n] = i
    lab = lab.astype(np.int64)
    if not names:
        hi = int(lab.max()) if len(lab) else -1
        if hi >= MAX_PARTS:
            raise _err(f"part label {hi} exceeds the limit of {MAX_PARTS} parts", f"{field}.labels")
    pl = PartLabels(lab, names)
    try:
        pl.validate(n_vertices)
    except InvalidInputError as e:
        f = e.field or ""
        mt = re.fullmatch(r"part (\d+)", f)  # core names an empty part "part 3"
        if mt:
            raise InvalidInputError(str(e), field=f"{field}.names[{mt.group(1)}]") from None
        raise _rebase(e, field, {"parts": f"{field}.labels"}) from None
    return pl


def parts_to_proto(p: PartLabels) -> pb.PartLabels:
    return pb.PartLabels(labels_i32le=np.ascontiguousarray(p.labels, dtype="<i4").tobytes(), names=list(p.names))


# ------------------------------------------------------------------------------------------ rig

def _json_map(d: dict) -> dict[str, str]:
    def default(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, (np.integer,)):
            return int(o)
        if isinstance(o, (np.floating,)):
            return float(o)
        if hasattr(o, "__dict__"):
            return {k: v for k, v in vars(o).items() if not k.startswith("_")}
        return str(o)
    out = {}
    for k, v in (d or {}).items():
        try:
            out[str(k)] = json.dumps(v, default=default)
        except (TypeError, ValueError):
            out[str(k)] = json.dumps(str(v))
    return out


def report_map(report) -> dict[str, str]:
    """RigResult.report: a MotionReport (its JSON fields; the in-memory KinematicParts stay home), a dict, or None."""
    if report is None:
        return {}
    if hasattr(report, "to_json_dict"):
        return _json_map(report.to_json_dict())
    return _json_map(report if isinstance(report, dict) else {"report": report})


def _from_json_map(m) -> dict:
    out = {}
    for k, v in m.items():
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def skeleton_to_proto(s: Skeleton) -> pb.Skeleton:
    return pb.Skeleton(names=list(s.names), parents=s.parents.astype(int).tolist(),
                       rest_local=s.rest_local.reshape(-1).tolist(), bind_world=s.bind_world.reshape(-1).tolist())


def skeleton_from_proto(s: pb.Skeleton) -> Skeleton:
    return Skeleton(list(s.names), np.asarray(s.parents, dtype=np.int64),
                    np.asarray(s.rest_local, dtype=np.float64).reshape(-1, 4, 4),
                    np.asarray(s.bind_world, dtype=np.float64).reshape(-1, 4, 4))


def skin_to_proto(s: SkinWeights) -> pb.SkinWeights:
    return pb.SkinWeights(influences=s.max_influences, vertex_count=s.n_vertices,
                          joint_indices_u32le=np.ascontiguousarray(s.indices, dtype="<u4").tobytes(),
                          weights_f32le=np.ascontiguousarray(s.weights, dtype="<f4").tobytes())


def skin_from_proto(s: pb.SkinWeights) -> SkinWeights:
    k = max(int(s.influences), 1)
    idx = np.frombuffer(s.joint_indices_u32le, dtype="<u4").reshape(-1, k).astype(np.int64)
    w = np.frombuffer(s.weights_f32le, dtype="<f4").reshape(-1, k).astype(np.float32)
    return SkinWeights(idx, w)


def animation_to_proto(a: Animation) -> pb.Animation:
    return pb.Animation(name=a.name, fps=float(a.fps), frame_count=a.n_frames, joint_count=a.n_joints,
                        translations_f32le=np.ascontiguousarray(a.translations, dtype="<f4").tobytes(),
                        rotations_f32le=np.ascontiguousarray(a.rotations, dtype="<f4").tobytes(),
                        scales_f32le=np.ascontiguousarray(a.scales, dtype="<f4").tobytes())


def animation_from_proto(a: pb.Animation) -> Animation:
    T, J = int(a.frame_count), int(a.joint_count)

    def arr(b, w):
        return np.frombuffer(b, dtype="<f4").reshape(T, J, w).astype(np.float64)
    return Animation(a.name, a.fps, arr(a.translations_f32le, 3), arr(a.rotations_f32le, 4), arr(a.scales_f32le, 3))


def rig_to_proto(rig: Rig, *, include_mesh: bool = False) -> pb.Rig:
    r = pb.Rig(skeleton=skeleton_to_proto(rig.skeleton), skin=skin_to_proto(rig.skin),
               animations=[animation_to_proto(a) for a in rig.animations],
               # a motion report travels once, in RigResult.report (report_map), not again in the metadata
               metadata=_json_map({k: v for k, v in rig.metadata.items() if k != "report"}))
    if rig.parts is not None:
        r.parts.CopyFrom(parts_to_proto(rig.parts))
    if rig.joint_parts is not None:
        r.joint_parts.extend(np.asarray(rig.joint_parts).astype(int).tolist())
    if include_mesh:
        r.mesh.CopyFrom(mesh_to_proto(rig.mesh))
    return r


def rig_from_proto(r: pb.Rig, mesh: Mesh | None = None) -> Rig:
    """Rebuild a Rig; ``mesh`` (the caller's own copy) is used when the message carries none."""
    if r.HasField("mesh"):
        mesh = mesh_from_proto(r.mesh, "rig.mesh", validate=False)
    if mesh is None:
        raise InvalidInputError("the rig carries no mesh and none was given", field="rig.mesh")
    parts = None
    if r.HasField("parts"):
        parts = PartLabels(np.frombuffer(r.parts.labels_i32le, dtype="<i4").astype(np.int64), list(r.parts.names))
    return Rig(mesh, skeleton_from_proto(r.skeleton), skin_from_proto(r.skin), parts=parts,
               animations=[animation_from_proto(a) for a in r.animations],
               joint_parts=np.asarray(r.joint_parts, dtype=np.int64) if len(r.joint_parts) else None,
               metadata=_from_json_map(r.metadata))


# ------------------------------------------------------------------------------------------ articulation

def articulation_to_proto(a: Articulation, *, include_meshes: bool = False) -> pb.Articulation:
    out = pb.Articulation(name=a.name, meters_per_unit=float(a.meters_per_unit))
    for link in a.links:
        lk = out.links.add(name=link.name)
        if include_meshes and link.mesh is not None:
            lk.mesh.CopyFrom(mesh_to_proto(link.mesh))
    for j in a.joints:
        out.joints.add(name=j.name, type=_JOINT_TYPES.get(j.type, pb.JOINT_TYPE_UNSPECIFIED), parent=j.parent,
                       child=j.child, origin=np.asarray(j.origin, float).tolist(), axis=np.asarray(j.axis, float).tolist(),
                       lower=float(j.lower), upper=float(j.upper), confidence=float(j.confidence),
                       extra=_json_map(j.extra))
    return out


def articulation_from_proto(a: pb.Articulation) -> Articulation:
    links = [Link(lk.name, mesh_from_proto(lk.mesh, "links.mesh", validate=False) if lk.HasField("mesh") else None)
             for lk in a.links]
    joints = [Joint(j.name, _JOINT_NAMES.get(j.type, "fixed"), j.parent, j.child, np.asarray(j.origin, float),
                    np.asarray(j.axis, float), j.lower, j.upper, j.confidence, _from_json_map(j.extra))
              for j in a.joints]
    return Articulation(links, joints, name=a.name, meters_per_unit=a.meters_per_unit or 1.0)


# ------------------------------------------------------------------------------------------ motion

@dataclass
class MotionData:
    vertices: np.ndarray  # [T, V, 3] float64
    faces: np.ndarray | None  # [F, 3] int64
    fps: float
    name: str


def motion_from_proto(s: pb.MotionSequence, field: str = "motion.sequence") -> MotionData:
    T, V = int(s.frame_count), int(s.vertex_count)
    if T < 2:
        raise _err(f"a motion sequence needs at least 2 frames, got frame_count={T}", f"{field}.frame_count")
    if T > MAX_FRAMES:
        raise _err(f"{T} frames exceeds the limit of {MAX_FRAMES}", f"{field}.frame_count")
    if V < 1 or V > MAX_VERTICES:
        raise _err(f"vertex_count={V} is out of range [1, {MAX_VERTICES}]", f"{field}.vertex_count")
    kind = s.WhichOneof("frames")
    if kind is None:
        raise _err("no frames (set frames_f32le or frames_f64le)", f"{field}.frames_f32le")
    dt = "<f4" if kind == "frames_f32le" else "<f8"
    buf = getattr(s, kind)
    want = T * V * 3 * np.dtype(dt).itemsize
    if len(buf) != want:
        raise _err(f"malformed frames: {len(buf)} bytes, expected {want} for {T} frames x {V} vertices x 3",
                   f"{field}.{kind}")
    x = np.frombuffer(buf, dtype=dt).reshape(T, V, 3).astype(np.float64)
    bad = ~np.isfinite(x).all(axis=(1, 2))
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        v = int(np.flatnonzero(~np.isfinite(x[t]).all(1))[0])
        raise _err(f"frame {t} vertex {v} is not finite", f"{field}.{kind}[frame {t}, vertex {v}]")
    if not np.isfinite(s.fps) or s.fps < 0:
        raise _err(f"fps must be a positive number, got {s.fps}", f"{field}.fps")
    faces = None
    if s.faces_u32le:
        faces = _array(s.faces_u32le, "<u4", 3, f"{field}.faces_u32le", "face bytes").astype(np.int64)
        if len(faces) and faces.max() >= V:
            i = int(np.flatnonzero((faces >= V).any(1))[0])
            raise _err(f"face {i} references vertex out of range {faces[i].tolist()} (V = {V})", f"{field}.faces_u32le[{i}]")
    return MotionData(x, faces, float(s.fps) or 30.0, _name(s.name, f"{field}.name") or "sequence")


def motion_to_proto(vertices: np.ndarray, faces: np.ndarray | None = None, fps: float = 30.0,
                    name: str = "sequence", *, precision: str = "f32") -> pb.MotionSequence:
    v = np.asarray(vertices)
    s = pb.MotionSequence(name=name, fps=float(fps), frame_count=v.shape[0], vertex_count=v.shape[1])
    if precision == "f64":
        s.frames_f64le = np.ascontiguousarray(v, dtype="<f8").tobytes()
    else:
        s.frames_f32le = np.ascontiguousarray(v, dtype="<f4").tobytes()
    if faces is not None:
        s.faces_u32le = np.ascontiguousarray(faces, dtype="<u4").tobytes()
    return s
