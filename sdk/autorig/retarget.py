"""Retarget an animation clip from one rig to another through the naming profiles.

Joint correspondence (target joint -> source joint):

* by name: both rigs use known profile names (ue5 / mixamo / unity, ``naming.canonical_of``);
* by skin: a source with arbitrary names (``leg_joint_L_1``) is auto-rigged on its own mesh (canonical
  names), and each canonical joint maps to the source joint whose skin overlaps its bone-heat weights most
  (``sum_v w_ours[v, j] w_src[v, s]``) -- this uses only the source rig's own mesh and skin.

Transfer (the usual rotation retargeting): every mapped target joint gets its source joint's world-space
rotation *change from bind* (``R_src(t) R_src_bind^-1``, expressed in the target's axes through the two
meshes' detected frames) applied to its own bind rotation; unmapped joints follow their parent rigidly.
Bone lengths stay the target's; the topmost mapped joint (pelvis) also gets the source's translation change,
scaled by the ratio of the two characters' heights.
"""
from __future__ import annotations

import numpy as np

from ..core import Animation, Rig
from ..errors import InvalidInputError
from .naming import canonical_of


def map_by_names(src_names: list[str], tgt_names: list[str]) -> dict[int, int]:
    src = {}
    for i, n in enumerate(src_names):
        c = canonical_of(n)
        if c is not None and c not in src:
            src[c] = i
    out = {}
    for j, n in enumerate(tgt_names):
        c = canonical_of(n)
        if c is not None and c in src:
            out[j] = src[c]
    return out


def bone_segments_of(skeleton, tips=None):
    """Per joint, its bone as segments to each child (leaves: to ``tips[j]`` if given, else half the parent's
    bone further along the parent's direction)."""
    pos = skeleton.joint_positions()
    segs = []
    for j in range(skeleton.n_joints):
        kids = skeleton.children(j)
        p = skeleton.parents[j]
        if kids:
            ends = [pos[k] for k in kids]
        elif tips is not None:
            ends = [tips[j]]
        else:
            ends = [pos[j] + 0.5 * (pos[j] - pos[p]) if p >= 0 else pos[j]]
        segs.append([(pos[j], e) for e in ends])
    return segs


def map_by_bones(a_skel, b_skel, a_tips=None, b_tips=None, samples: int = 7) -> np.ndarray:
    """For every joint of skeleton a, the joint of b whose bone lies closest to a's bone (same space).

    Distance = mean over ``samples`` points along a's bone (to its first child or leaf tip) of the distance to
    b's bone segments. Returns [J_a] indices into b.
    """
    from ..rigging.heat import point_segment
    A = bone_segments_of(a_skel, a_tips)
    B = bone_segments_of(b_skel, b_tips)
    sa = np.array([s for segs in B for s in [segs[0][0]] * len(segs)])
    sb = np.array([s[1] for segs in B for s in segs])
    owner = np.array([j for j, segs in enumerate(B) for _ in segs])
    t = np.linspace(0.1, 0.9, samples)
    out = np.zeros(a_skel.n_joints, dtype=np.int64)
    for j, segs in enumerate(A):
        p0, p1 = segs[0]
        pts = p0[None] + t[:, None] * (p1 - p0)[None]
        d, _ = point_segment(pts, sa, sb)  # [samples, S]
        per = np.full(b_skel.n_joints, np.inf)
        np.minimum.at(per, owner, d.mean(0))
        out[j] = int(np.argmin(per))
    return out


def map_by_skin(src: Rig) -> dict[str, int]:
    """canonical joint name -> source joint index, from an autorig of the source mesh in its own coordinates
    (the source's bones are matched to the auto-rig's bones by position: :func:`map_by_bones`)."""
    from . import autorig
    ours = autorig(src.mesh, template="auto", naming="ue5", upright=False)
    idx = map_by_bones(ours.skeleton, src.skeleton, np.asarray(ours.metadata["leaf_tips"]))
    return {name: int(idx[j]) for j, name in enumerate(ours.metadata["canonical_names"]) if name != "root"}


def _frame_rows(mesh) -> tuple[np.ndarray, float]:
    from .frame import detect_frame
    fr = detect_frame(mesh.vertices, mesh.faces)
    return np.stack([fr.left, fr.up, fr.forward], 0), fr.height


def correspondence(src: Rig, tgt: Rig) -> dict[int, int]:
    """target joint index -> source joint index (by names when possible, else by the source's skin)."""
    m = map_by_names(src.skeleton.names, tgt.skeleton.names)
    if len(m) >= 8 or (len(m) >= 3 and len(m) >= 0.5 * tgt.skeleton.n_joints):
        return m
    by_canon = map_by_skin(src)
    out = {}
    for j, n in enumerate(tgt.skeleton.names):
        c = canonical_of(n)
        if c is not None and c in by_canon:
            out[j] = by_canon[c]
    if len(out) < 2:
        raise InvalidInputError("could not match the two skeletons (target bones have no profile names, or the source "
                                "mesh could not be auto-rigged)", field="target")
    return out


def retarget(src: Rig, tgt: Rig, clip: str | None = None, mapping: dict[int, int] | None = None,
             align: np.ndarray | None = None, scale: float | None = None, same_space: bool = False) -> Animation:
    """The source clip as an Animation of the target skeleton.

    mapping: target joint -> source joint (default :func:`correspondence`). align: 3x3 rotation from source
    world axes to target world axes (default from the detected frames of both meshes). scale: translation
    scale (default target height / source height). same_space: both rigs are in one space (e.g. two rigs of
    the same mesh): the hips then move with the source joint's full rigid motion (rotation about the source
    pivot included), not only its translation change.
    """
    anim = src.animation(clip)
    if mapping is None:
        mapping = correspondence(src, tgt)
    if same_space:
        align, scale = np.eye(3), 1.0
    sw = anim.world_matrices(src.skeleton.parents)  # [T, Js, 4, 4]
    P = np.eye(3)  # the source scene's constant rotation from its bind space to its animated world
    if align is None or scale is None:
        Rs, hs = _frame_rows(src.mesh)
        Rt, ht = _frame_rows(tgt.mesh)
        from ..core import Mesh
        posed = src.pose(sw[0])
        Rp, _ = _frame_rows(Mesh(posed, src.mesh.faces))
        P = Rp.T @ Rs
        if np.allclose(np.round(P), P, atol=0.15) and abs(np.linalg.det(np.round(P))) == 1:
            P = np.round(P)  # scene transforms are axis swaps in practice (Z-up content in a Y-up file)
        if align is None:
            align = Rt.T @ Rs
        if scale is None:
            scale = ht / max(hs, 1e-12)
    sb = src.skeleton.bind_world
    T = anim.n_frames
    tb = tgt.skeleton.bind_world
    par = tgt.skeleton.parents
    Jt = tgt.skeleton.n_joints
    # source world rotation deltas (orthonormalized: strip scale)
    Rsw = sw[..., :3, :3]
    U, _, Vt = np.linalg.svd(Rsw)
    Rsw = U @ Vt
    Ub, _, Vbt = np.linalg.svd(sb[:, :3, :3])
    Rsb = Ub @ Vbt
    D = P.T[None, None] @ Rsw @ np.swapaxes(Rsb, -1, -2)[None]  # [T, Js, 3, 3], scene rotation removed
    D = align[None, None] @ D @ align.T[None, None]
    # topmost mapped target joint gets the translation change
    depth = np.zeros(Jt, dtype=int)
    for j in range(Jt):
        depth[j] = 0 if par[j] < 0 else depth[par[j]] + 1
    mapped = sorted(mapping, key=lambda j: (depth[j], j))
    top = mapped[0]
    s_top = mapping[top]
    if same_space:
        dp = np.zeros((T, 3))
    else:  # travel relative to the first frame, in bind axes
        dp = ((sw[:, s_top, :3, 3] - sw[:1, s_top, :3, 3]) @ P) @ align.T * scale  # [T, 3]
    local_bind = np.linalg.inv(tb[np.maximum(par, 0)]) @ tb
    local_bind[par < 0] = tb[par < 0]
    W = np.zeros((T, Jt, 4, 4))
    W[..., 3, 3] = 1.0
    Rd = np.zeros((T, Jt, 3, 3))
    for j in range(Jt):
        if j in mapping:
            Rd[:, j] = D[:, mapping[j]]
        elif par[j] >= 0:
            Rd[:, j] = Rd[:, par[j]]
        else:
            Rd[:, j] = np.eye(3)
        W[:, j, :3, :3] = Rd[:, j] @ tb[j, :3, :3]
        if par[j] < 0:
            W[:, j, :3, 3] = tb[j, :3, 3]
        else:
            W[:, j, :3, 3] = (W[:, par[j]] @ np.r_[local_bind[j, :3, 3], 1.0])[:, :3]
        if j == top:  # the hips carry the clip's travel (the root, if unmapped, stays on the ground)
            if same_space:
                W[:, j, :3, 3] = sw[:, s_top, :3, 3] + D[:, s_top] @ (tb[j, :3, 3] - sb[s_top, :3, 3])
            else:
                W[:, j, :3, 3] = tb[j, :3, 3] + dp
    from ..core.transforms import world_to_local
    local = world_to_local(par, W)
    return Animation.from_local_matrices(anim.name, anim.fps, local).validate(Jt)
