"""Rig a plain mesh (no parts, no skin, no motion): skeleton by template embedding or curve skeleton,
standard bone names, bone-heat weights. Single entry point: :func:`autorig`.

    from sdk.autorig import autorig
    rig = autorig(mesh, template="auto", naming="ue5")

Steps: weld -> split off small pieces (eyes, teeth, buttons) -> decimate a copy above ``max_embed_faces``
-> up/forward/symmetry (:mod:`.frame`) -> medial spheres (:mod:`.medial`) -> template embedding
(:mod:`.templates`) or Laplacian-contraction curve skeleton (:mod:`.curve`) -> profile names and bone axes
(:mod:`.naming`) -> bone heat (``sdk.rigging.heat``) on the body, weights carried back to every input vertex
by closest point; small pieces follow their nearest bone rigidly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import Mesh, Rig, Skeleton
from ..errors import InvalidInputError
from .frame import Frame, FrameConfig
from .medial import MedialConfig
from .naming import BONE_AXIS, PROFILES, check_profile, humanoid_map, profile_name

TEMPLATE_CHOICES = ("auto", "biped", "quadruped", "chain")


@dataclass
class AutorigConfig:
    small_component: float = 0.005  # pieces under this fraction of the surface area attach rigidly (ours)
    max_embed_faces: int = 20000  # embed and skin on a decimated copy above this many faces (ours)
    medial: MedialConfig = field(default_factory=MedialConfig)
    frame: FrameConfig = field(default_factory=FrameConfig)
    samples: int = 6000  # surface samples for frame detection and refinement (ours)


def _report(progress, frac, msg):
    if progress is not None:
        progress(float(min(max(frac, 0.0), 1.0)), msg)


def _rotations(pos: np.ndarray, parents: np.ndarray, tips: np.ndarray, axis: str | None, frame: Frame) -> np.ndarray:
    """Bind rotations [J, 3, 3]: ``axis`` ("x" or "y") along the bone to the first child, root identity."""
    J = len(pos)
    R = np.tile(np.eye(3), (J, 1, 1))
    if axis is None:
        return R
    for j in range(J):
        if parents[j] < 0:
            continue
        kids = np.flatnonzero(parents == j)
        if len(kids):
            d = pos[kids[0]] - pos[j]
        elif np.linalg.norm(tips[j] - pos[j]) > 1e-9:
            d = tips[j] - pos[j]
        else:
            d = pos[j] - pos[parents[j]]
        n = np.linalg.norm(d)
        if n < 1e-12:
            continue
        a = d / n
        ref = frame.forward if abs(a @ frame.up) > 0.7 else frame.up
        z = ref - (ref @ a) * a
        if np.linalg.norm(z) < 1e-6:
            z = np.cross(a, frame.left)
        z /= np.linalg.norm(z)
        if axis == "x":
            y = np.cross(z, a)
            R[j] = np.stack([a, y, z], 1)
        else:
            x = np.cross(a, z)
            R[j] = np.stack([x, a, z], 1)
    return R


def _decimate(v: np.ndarray, f: np.ndarray, target: int):
    """A copy with about ``target`` faces: vertex clustering first for very large meshes (fast, numpy), then
    libigl's edge collapse (quadric-free, shortest edge first)."""
    import igl
    from ..rigging.laplacian import weld
    if len(f) > 6 * target:
        diag = float(np.linalg.norm(v.max(0) - v.min(0)))
        area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1).sum()
        cell = np.sqrt(2.0 * area / (4 * target))  # ~4x target faces after clustering
        w = weld(v, f, min(cell, 0.01 * diag))
        v, f = w.vertices, w.faces
    try:
        U, G, _, _ = igl.decimate(np.asfortranarray(v), np.asfortranarray(f.astype(np.int32)), int(target))
    except Exception:  # non-manifold input: libigl refuses; fall back to vertex clustering
        U, G = None, None
    if U is None or len(G) == 0:
        diag = float(np.linalg.norm(v.max(0) - v.min(0)))
        cell = diag * np.sqrt(2.0 / max(target, 1)) * 0.5
        w = weld(v, f, cell)
        return w.vertices, w.faces
    return np.asarray(U, dtype=np.float64), np.asarray(G, dtype=np.int64)


def _closest_weights(P: np.ndarray, V: np.ndarray, F: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weights [N, J] at points P by barycentric interpolation at the closest point of mesh (V, F)."""
    import igl
    _, fi, C = igl.point_mesh_squared_distance(P, V, F.astype(np.int64))
    fi = np.asarray(fi, dtype=np.int64)
    a, b, c = V[F[fi, 0]], V[F[fi, 1]], V[F[fi, 2]]
    v0, v1, v2 = b - a, c - a, C - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
    den = np.where(np.abs(d00 * d11 - d01 * d01) < 1e-30, 1e-30, d00 * d11 - d01 * d01)
    bv = (d11 * d20 - d01 * d21) / den
    bw = (d00 * d21 - d01 * d20) / den
    bu = 1 - bv - bw
    bary = np.clip(np.stack([bu, bv, bw], 1), 0, 1)
    bary /= np.maximum(bary.sum(1, keepdims=True), 1e-12)
    out = (bary[:, :, None] * W[F[fi]]).sum(1)
    return out / np.maximum(out.sum(1, keepdims=True), 1e-12)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from ..rigging.heat import point_segment
    return point_segment(points, a, b)[0]


def embed_skeleton(vertices: np.ndarray, faces: np.ndarray, template: str = "auto", config: AutorigConfig | None = None,
                   max_bones: int | None = None, frame_mesh: tuple | None = None):
    """(Embedding, Frame) for a welded body mesh; ``frame_mesh`` (vertices, faces): the mesh whose axes are
    detected (default the body itself; the whole input keeps the small pieces a multi-part robot stands on)."""
    from .curve import curve_skeleton
    from .frame import detect_frame, surface_samples
    from .medial import medial_graph
    from .templates import Embedding, embed_biped, embed_quadruped
    cfg = config or AutorigConfig()
    S = surface_samples(vertices, faces, cfg.samples)
    if frame_mesh is not None:
        fr = detect_frame(*frame_mesh, cfg.frame)
    else:
        fr = detect_frame(vertices, faces, cfg.frame, samples=S)
    if template in ("biped", "quadruped", "auto"):
        g = medial_graph(vertices, faces, cfg.medial)
        order = [template] if template != "auto" else (
            ["biped", "quadruped"] if fr.body == "biped" else ["quadruped", "biped"] if fr.body == "quadruped" else [])
        err = None
        for t in order:
            try:
                emb = (embed_biped if t == "biped" else embed_quadruped)(g, fr, S)
                emb.score["frame_body"] = fr.body
                return emb, fr
            except InvalidInputError as e:
                if template != "auto":
                    raise
                err = e
        del err
    pos, par = curve_skeleton(vertices, faces, max_bones=max_bones)
    names = ["root"] + [f"bone_{k:02d}" for k in range(1, len(pos))]
    return Embedding(names, par, pos, pos.copy(), "chain", {"frame_body": fr.body}), fr


def autorig(mesh: Mesh, template: str = "auto", naming: str = "ue5", *, max_influences: int = 4,
            max_bones: int | None = None, quantize_bits: int | None = None, config: AutorigConfig | None = None,
            upright: bool = True, progress=None, source: str | None = None) -> Rig:
    """Rig a plain mesh.

    template: auto | biped | quadruped | chain (template-free curve skeleton). naming: ue5 | mixamo | unity |
    generic. max_bones: bone budget (chain skeletons are reduced to it; templates refuse a smaller budget).
    upright: rotate mesh and skeleton rigidly (about the origin) so the detected up is +Y and forward +Z, as
    glTF/USD/engines expect; the rotation applied is ``metadata["applied_rotation"]`` (3x3; identity when the
    mesh already stands that way). ``upright=False`` keeps the input's coordinates.
    Returns a Rig whose metadata holds the template, profile, canonical names, detected axes and (Unity) the
    HumanBodyBones map.
    """
    from ..rigging.budget import check_budget, limit_weights
    from ..rigging.heat import heat_weights
    from ..rigging.laplacian import components, mass_matrix, weld
    cfg = config or AutorigConfig()
    if template not in TEMPLATE_CHOICES:
        raise InvalidInputError(f"unknown template {template!r} (use one of {', '.join(TEMPLATE_CHOICES)})",
                                field="template")
    check_profile(naming)
    check_budget(max_influences, max_bones, quantize_bits)
    _report(progress, 0.0, "validating")
    work = Mesh(np.asarray(mesh.vertices, dtype=np.float64), np.array(mesh.faces, dtype=np.int64), name=mesh.name)
    work = work.validate(source)
    wm = weld(work.vertices, work.faces)
    V, F = wm.vertices, wm.faces
    ncomp, comp = components(F, len(V))
    area = mass_matrix(V, F, len(V))
    carea = np.bincount(comp, weights=area, minlength=ncomp)
    big = carea >= cfg.small_component * carea.sum()
    if not big.any():
        big[np.argmax(carea)] = True
    body_v = big[comp]
    fbody = F[body_v[F[:, 0]]]
    keep_v = np.flatnonzero(body_v)
    remap = np.full(len(V), -1)
    remap[keep_v] = np.arange(len(keep_v))
    BV, BF = V[keep_v], remap[fbody]
    decimated = len(BF) > cfg.max_embed_faces
    if decimated:
        _report(progress, 0.05, f"decimating {len(BF)} faces")
        EV, EF = _decimate(BV, BF, cfg.max_embed_faces)
        ew = weld(EV, EF)
        EV, EF = ew.vertices, ew.faces
    else:
        EV, EF = BV, BF
    _report(progress, 0.1, "embedding skeleton")
    emb, fr = embed_skeleton(EV, EF, template, cfg, max_bones, frame_mesh=(V, F) if not body_v.all() else None)
    if max_bones is not None and len(emb.names) > max_bones and emb.template != "chain":
        raise InvalidInputError(f"the {emb.template} template has {len(emb.names)} bones, over --max-bones {max_bones} "
                                f"(raise it or use --template chain)", field="max_bones")
    out_mesh = mesh
    Rup = np.stack([fr.left, fr.up, fr.forward], 0)  # rows: left -> +X, up -> +Y, forward -> +Z
    if upright and not np.allclose(Rup, np.eye(3), atol=1e-9):
        out_mesh = Mesh(np.asarray(mesh.vertices, dtype=np.float64) @ Rup.T, np.array(mesh.faces), name=mesh.name,
                        uvs=mesh.uvs, look=mesh.look.transformed(Rup) if mesh.look is not None else None)
        V, BV, EV = V @ Rup.T, BV @ Rup.T, EV @ Rup.T
        emb.positions, emb.tips = emb.positions @ Rup.T, emb.tips @ Rup.T
        fr = Frame(up=np.array([0.0, 1, 0]), forward=np.array([0.0, 0, 1]), left=np.array([1.0, 0, 0]),
                   center=Rup @ fr.center, symmetry_error=fr.symmetry_error, bottom_clusters=fr.bottom_clusters,
                   body=fr.body, height=fr.height, ground=fr.ground)
    else:
        Rup = np.eye(3)
    J = len(emb.names)
    names = [profile_name(n, naming) for n in emb.names]
    parents, pos = emb.parents, emb.positions
    if naming == "mixamo" and emb.template != "chain":  # Mixamo rigs have no root bone: Hips is the root
        keep = np.array([n != "root" for n in emb.names])
        old = np.flatnonzero(keep)
        m = np.full(J, -1)
        m[old] = np.arange(len(old))
        parents = np.array([m[p] if p >= 0 else -1 for p in parents[keep]])
        pos, tips = pos[keep], emb.tips[keep]
        names = [names[i] for i in old]
        canonical = [emb.names[i] for i in old]
    else:
        tips, canonical = emb.tips, list(emb.names)
    J = len(names)
    R = _rotations(pos, parents, tips, BONE_AXIS[naming], fr)
    bind = np.tile(np.eye(4), (J, 1, 1))
    bind[:, :3, :3] = R
    bind[:, :3, 3] = pos
    skel = Skeleton.from_world(names, parents, bind).validate()
    _report(progress, 0.3, "bone heat")
    # heat on the body: the template root (at the ground) carries no bone
    drop_root = canonical[0] == "root" and np.sum(parents == 0) == 1 and J > 1
    if drop_root:
        sub_par = np.where(parents[1:] > 0, parents[1:] - 1, -1)
        hs = Skeleton.from_world(names[1:], sub_par, bind[1:])
        htips = tips[1:]
    else:
        hs, htips = skel, tips
    W_e = heat_weights(EV, EF, hs, leaf_tips=htips, progress=lambda f, m: _report(progress, 0.3 + 0.5 * f, m))
    if drop_root:
        W_e = np.concatenate([np.zeros((len(W_e), 1)), W_e], 1)
    _report(progress, 0.85, "transfer")
    W = np.zeros((len(V), J))
    W[keep_v] = _closest_weights(BV, EV, EF, W_e) if decimated else W_e
    small = np.flatnonzero(~body_v)
    if len(small):  # small pieces: rigidly on the nearest bone (by the piece's centroid)
        from ..rigging.heat import bone_segments
        sa, sb, sj = bone_segments(hs, htips)
        if drop_root:
            sj = sj + 1
        for c in np.unique(comp[small]):
            mem = np.flatnonzero(comp == c)
            d = _segment_distance(V[mem].mean(0, keepdims=True), sa, sb)[0]
            W[mem] = 0.0
            W[mem, sj[int(np.argmin(d))]] = 1.0
    skin = limit_weights(W[wm.vmap], max_influences, quantize_bits)
    meta = {"method": "heat", "template": emb.template, "naming": naming, "canonical_names": canonical,
            "up": fr.up.tolist(), "forward": fr.forward.tolist(), "left": fr.left.tolist(),
            "symmetry_error": fr.symmetry_error, "detected_body": fr.body, "decimated_faces": len(EF) if decimated else None,
            "small_components": int((~big).sum()), "max_influences": int(max_influences), "quantize_bits": quantize_bits,
            "leaf_tips": tips.tolist(), "pose": emb.score.get("pose"), "arm_angle_deg": emb.score.get("arm_angle_deg"), "applied_rotation": Rup.tolist(), "detected_up": (Rup.T @ fr.up).tolist()}
    if naming == "unity":
        meta["humanoid"] = humanoid_map(names, canonical)
    rig = Rig(out_mesh, skel, skin, metadata=meta)
    _report(progress, 1.0, "done")
    return rig.validate()


__all__ = ["autorig", "embed_skeleton", "AutorigConfig", "TEMPLATE_CHOICES", "PROFILES"]
