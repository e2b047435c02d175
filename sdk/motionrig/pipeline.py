"""``rig_from_motion``: a skinned, animated rig from a mesh sequence.

1. fine kinematic parts (sdk.motionrig.parts, with a low merge threshold) -> one bone per part;
2. SSDR refinement (sdk.motionrig.ssdr) of those bones: blended weights, sharper (un-blended) bone motions;
3. SP4D §3.3 bone merging on the refined bones (relative displacement below ``merge_tol`` of the bbox diagonal;
   ``max_bones`` caps the count; static bones merged) -> the kinematic parts are the argmax of the skin, which is
   exactly how SP4D defines parts from a rig;
4. SSDR again with the merged bones; skeleton tree, joint centres, types and names (sdk.motionrig.skeleton);
5. output: Rig (bind pose = frame 0) with one Animation replaying the sequence, and a report with the per-frame
   reconstruction error of that rig (LBS replay of the exported data, not an internal estimate).
"""
from __future__ import annotations

import contextlib
import logging
import time

import numpy as np
import torch

from ..core import Animation, Mesh, PartLabels, Rig, Skeleton, SkinWeights
from ..core.transforms import translation, world_to_local
from ..errors import InvalidInputError
from ..rigging.budget import check_budget
from ..util.progress import ProgressFn, Steps
from ..util.progress import report as report_progress
from .parts import PartsConfig, kinematic_parts, merge_bones
from .report import MotionReport
from .sequence import MeshSequence
from .skeleton import fit_skeleton
from .parts import rigid_costs
from .ssdr import SSDRConfig, prune_bones, solve_weights, ssdr

log = logging.getLogger(__name__)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Temporarily use ``n`` CPU threads in torch (None: unchanged). One thread is much faster on busy machines."""
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def rig_from_motion(
    seq: MeshSequence,  # or MeshFrames of one topology
    max_bones: int | None = None,
    max_influences: int = 4,
    iterations: int = 8,
    device: str | None = None,
    progress: ProgressFn | None = None,
    *,
    merge_tol: float = 0.01,
    fine_tol: float = 0.002,
    static_tol: float = 0.004,
    prune_tol: float = 0.002,
    max_vertices: int = 4000,
    part_rule: str = "skin",
    method: str = "kmeans",
    nan_frames: str = "error",
    clip_name: str | None = None,
    threads: int | None = None,
    backend: str = "auto",
):
    """Recover a rig from a mesh sequence -> (Rig with one Animation, report dict).

    ``progress``: optional callback(fraction in [0, 1], message). ``device``: torch device for the heavy steps
    ("cpu", "cuda"; None: cpu). ``backend``: "auto" (compiled numba kernels for the SSDR weight QPs on the CPU
    when numba is installed) or "torch" (the reference path; same results). Raises InvalidInputError for sequences with < 2 frames, NaN frames (unless
    ``nan_frames="drop"``) or no motion at all.
    """
    check_budget(max_influences, max_bones, None)  # the same bounds as rigging from parts
    from ..core import MeshFrames
    if isinstance(seq, MeshFrames):  # per-frame meshes: fine when they share one topology (else register first)
        seq = seq.validate(min_frames=2).to_sequence()
    seq = seq.validate(nan_frames=nan_frames)
    if seq.static:
        raise InvalidInputError(f"the sequence has no motion (largest displacement {seq.motion_extent():.2e} of the "
                                f"bbox diagonal): there is nothing to recover a rig from", field="vertices",
                                source=seq.source)
    dev = device or "cpu"
    # progress ranges: kinematic parts 4 steps, each SSDR iteration one step, skeleton + export the rest
    steps = Steps(progress, 8 + iterations)

    timings = {}
    with torch_threads(threads):
        t0 = time.perf_counter()
        fine_cap = None if max_bones is None else max(2 * max_bones, max_bones + 4)
        kp = kinematic_parts(seq, PartsConfig(max_parts=fine_cap, merge_tol=fine_tol, static_tol=static_tol,
                                              method=method, device=dev), progress=steps.sub(4))
        steps("kinematic parts", advance=4)
        timings["parts_s"] = time.perf_counter() - t0
        X = seq.vertices[:, kp.weld_rep]  # [T, N, 3]
        mult = np.bincount(kp.weld_index, minlength=X.shape[1]).astype(np.float64)
        diag = seq.bbox_diagonal or 1.0
        N = X.shape[1]
        # large meshes: skinning decomposition on a stratified vertex subset, weights of the rest solved at the end
        sel = _subset(kp.welded_labels, max_vertices, seed=0)
        Xs, ms = X[:, sel], mult[sel]
        it1 = max(1, iterations // 2)
        it2 = max(1, iterations - it1 - 2)
        it3 = 2
        cfg = SSDRConfig(max_influences=max_influences, device=dev, backend=backend)
        t1 = time.perf_counter()
        r1 = ssdr(Xs[0], Xs, kp.transforms, labels=kp.welded_labels[sel],
                  config=SSDRConfig(iterations=it1, max_influences=max_influences, device=dev, backend=backend),
                  vertex_weights=ms, progress=steps.sub(it1))
        steps("SSDR: bone merging", advance=it1)
        # SP4D bone merging on the refined bones (adjacency and surface samples from every vertex)
        old_of_new, sw, merges = _merge_refined_bones(X, sel, r1, kp.edges, merge_tol, static_tol, max_bones, diag,
                                                      max_influences)
        r2 = ssdr(Xs[0], Xs, r1.transforms[old_of_new], indices=sw.indices, weights=sw.weights.astype(np.float64),
                  config=SSDRConfig(iterations=it2, max_influences=max_influences, device=dev, backend=backend),
                  vertex_weights=ms, progress=steps.sub(it2))
        steps("SSDR: pruning", advance=it2)
        # drop bones the others can stand in for (blend bones of smooth-skinned joints), then settle
        keep, pi, pw = _prune(Xs, r2, prune_tol, cfg)
        P = int(keep.sum())
        r3 = ssdr(Xs[0], Xs, r2.transforms[keep], indices=pi, weights=pw,
                  config=SSDRConfig(iterations=it3, max_influences=max_influences, device=dev, backend=backend),
                  vertex_weights=ms, progress=steps.sub(it3))
        steps("SSDR: weights", advance=it3)
        pruned = int((~keep).sum())
        hist = r1.rmse_history + r2.rmse_history + r3.rmse_history
        m2 = r3.transforms  # [P, T, 4, 4]
        if len(sel) < N:
            idx_all, w_all = solve_weights(X[0], X, m2, cfg)
            idx_all[sel], w_all[sel] = r3.indices, r3.weights
        else:
            idx_all, w_all = r3.indices, r3.weights
        timings["ssdr_s"] = time.perf_counter() - t1

        # final parts: argmax of the skin; bones that win no vertex still get joints
        t2 = time.perf_counter()
        lab2 = _best_bone(X, m2) if part_rule == "rigid" else idx_all[:, 0]
        motion = np.array([np.linalg.norm(X[:, lab2 == p] - X[0][None, lab2 == p], axis=-1).mean()
                           if (lab2 == p).any() else 0.0 for p in range(P)]) / diag
        sk = fit_skeleton(X[0], lab2, m2, kp.edges, static=motion < static_tol)
        steps("skeleton")
        timings["skeleton_s"] = time.perf_counter() - t2

    rig = _assemble_rig(seq, kp, sk, m2, idx_all, w_all, lab2, clip_name)
    report = _make_report(seq, rig, X, kp, mult, diag, sel, hist, merges, pruned, timings, dev)
    report_progress(progress, 1.0, "rig from motion")
    return rig, report


def _merge_refined_bones(X, sel, r1, edges, merge_tol, static_tol, max_bones, diag, max_influences):
    """SP4D bone merging on SSDR's refined bones -> (old bone of each new one, merged skin on ``sel``, merges)."""
    N = X.shape[1]
    B1 = r1.transforms.shape[0]
    if len(sel) < N:
        lab1 = _best_bone(X, r1.transforms)
        lab1[sel] = r1.indices[:, 0]
    else:
        lab1 = r1.indices[:, 0]
    present = np.unique(lab1)
    remap = np.full(B1, -1)
    remap[present] = np.arange(len(present))
    lab1c = remap[lab1]
    new_lab, kept, merges = merge_bones(torch.as_tensor(r1.transforms[present]), lab1c, torch.as_tensor(X),
                                        edges, merge_tol, static_tol, max_bones, diag)
    P = len(kept)
    old_of_new = present[kept]
    group = np.full(B1, -1)  # every old bone joins the new part that took most of its argmax vertices
    for b in present:
        group[b] = np.bincount(new_lab[lab1c == remap[b]], minlength=P).argmax()
    dense = np.zeros((len(sel), P))
    for c in range(r1.indices.shape[1]):
        g = group[r1.indices[:, c]]
        ok = g >= 0
        np.add.at(dense, (np.flatnonzero(ok), g[ok]), r1.weights[ok, c])
    sw = SkinWeights.from_dense(dense, max_influences)
    return old_of_new, sw, merges


def _prune(Xs, r2, prune_tol, cfg):
    """Drop bones the others can stand in for; re-index the influences -> (keep [B], indices, weights)."""
    keep, pi, pw = prune_bones(Xs[0], Xs, r2.transforms, r2.indices, r2.weights, prune_tol, cfg)
    newid = np.cumsum(keep) - 1
    first_alive = int(np.argmax(keep))
    pi = np.where(keep[pi] & (pw > 0), newid[pi], newid[np.where(keep[pi[:, :1]], pi[:, :1], first_alive)])
    pi = np.where(pw > 0, pi, pi[:, :1])
    return keep, pi, pw


def _assemble_rig(seq, kp, sk, m2, idx_all, w_all, lab2, clip_name):
    """The Rig (bind pose = frame 0, one Animation replaying the sequence) from the fitted skeleton and skin."""
    J = len(sk.joints)
    names = sk.names
    parents = sk.parents
    joint_of_bone = sk.part_to_joint
    bind = np.stack([translation(j.origin) for j in sk.joints])  # [J, 4, 4]
    m_joint = m2[np.argsort(joint_of_bone)]  # [J, T, 4, 4] in joint order
    pose_world = np.einsum("jtab,jbc->tjac", m_joint, bind)  # [T, J, 4, 4]
    skeleton = Skeleton.from_world(names, parents, bind)
    anim = Animation.from_local_matrices(clip_name or seq.clip or "motion", seq.fps,
                                         world_to_local(parents, pose_world))
    idx = joint_of_bone[idx_all][kp.weld_index]
    w = w_all[kp.weld_index]
    skin = SkinWeights(np.where(w > 0, idx, idx[:, :1]), w.astype(np.float32))
    jl = joint_of_bone[lab2][kp.weld_index]  # joint of each original vertex
    used = np.unique(jl)
    part_id = np.full(J, -1)
    part_id[used] = np.arange(len(used))
    parts = PartLabels(part_id[jl], [names[j] for j in used])
    faces = seq.faces if seq.faces is not None else np.zeros((0, 3), np.int64)
    mesh = Mesh(seq.vertices[0], faces, name=seq.name, uvs=seq.uvs, look=seq.look)  # the input's look, unwelded
    rig = Rig(mesh, skeleton, skin, parts, [anim], joint_parts=part_id,
              metadata={"generator": "articulate rig_from_motion", "source": seq.source or seq.name,
                        "joints": [_joint_dict(j, names) for j in sk.joints]})
    rig.validate()
    return rig


def _make_report(seq, rig, X, kp, mult, diag, sel, hist, merges, pruned, timings, dev) -> MotionReport:
    """The report; its error is the exported rig's replay of the input."""
    replay = replay_rig(rig)
    err = np.linalg.norm(replay - seq.vertices, axis=-1)  # [T, V]
    per_frame = np.sqrt((err ** 2).mean(1))
    rigid = _rigid_rmse(X, kp.welded_labels, kp.transforms, mult)
    return MotionReport(
        per_frame_rmse=per_frame.tolist(),
        rmse=float(np.sqrt((err ** 2).mean())),
        rmse_pct=float(100 * np.sqrt((err ** 2).mean()) / diag),
        max_error_pct=float(100 * err.max() / diag),
        rigid_rmse_pct=float(100 * rigid / diag),
        bbox_diagonal=diag,
        n_frames=seq.n_frames,
        n_vertices=seq.n_vertices,
        n_welded=int(X.shape[1]),
        n_parts_init=kp.n_init,
        n_parts_fine=kp.n_parts,
        n_bones=rig.skeleton.n_joints,
        ssdr_vertices=int(len(sel)),
        ssdr_rmse_history=hist,
        merges=merges,
        pruned_bones=pruned,
        joints=rig.metadata["joints"],
        timings=timings,
        device=str(dev),
        parts=kp,
    )


def replay_rig(rig: Rig, name: str | None = None) -> np.ndarray:
    """``rig.animate(name)`` [T, V, 3] (LBS of the rig's own skeleton, animation and skin), as one sparse product.

    Same data and formula as :meth:`sdk.core.Rig.pose` (v' = sum_i w_i M_{j_i} [v, 1]) but the blended matrices come
    from the sparse skin [V, J] times the skinning matrices [J, T*12] instead of a [T, V, k, 3, 4] gather; tests
    check it equals ``rig.animate()``.
    """
    import scipy.sparse as sp
    a = rig.animation(name)
    m = np.asarray(rig.skeleton.skinning_matrices(a.world_matrices(rig.skeleton.parents)))  # [T, J, 4, 4]
    T, J = m.shape[:2]
    v = np.asarray(rig.mesh.vertices, dtype=m.dtype)
    idx, w = np.asarray(rig.skin.indices, dtype=np.int64), np.asarray(rig.skin.weights, dtype=m.dtype)
    V, k = idx.shape
    W = sp.csr_matrix((w.reshape(-1), idx.reshape(-1), np.arange(0, V * k + 1, k)), shape=(V, J))
    blended = np.asarray(W @ m[:, :, :3, :].transpose(1, 0, 2, 3).reshape(J, T * 12)).reshape(V, T, 3, 4)
    out = np.einsum("vtij,vj->tvi", blended[..., :3], v)
    out += blended[..., 3].transpose(1, 0, 2)
    return out


def _subset(labels: np.ndarray, max_vertices: int, seed: int = 0) -> np.ndarray:
    """At most ~max_vertices vertex ids, random but keeping at least min(size, 24) of every part."""
    n = len(labels)
    if n <= max_vertices:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    pick = [rng.choice(n, max_vertices, replace=False)]
    for p in np.unique(labels):
        ix = np.flatnonzero(labels == p)
        pick.append(rng.choice(ix, min(len(ix), 24), replace=False))
    return np.unique(np.concatenate(pick))


def _best_bone(X: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """The bone whose rigid motion explains each vertex's trajectory best -> [N]."""
    x = torch.as_tensor(X[0])
    y = torch.as_tensor(X)
    m = torch.as_tensor(transforms)
    out = np.empty(len(x), dtype=np.int64)
    ch = max(256, 20_000_000 // max(1, m.shape[0] * m.shape[1] * 9))
    for s in range(0, len(x), ch):
        out[s:s + ch] = rigid_costs(x[s:s + ch], y[:, s:s + ch], m).argmin(1).numpy()
    return out


def _joint_dict(j, names):
    return {"name": j.name, "parent": names[j.parent] if j.parent >= 0 else None, "type": j.type,
            "origin": [float(x) for x in j.origin], "axis": [float(x) for x in j.axis],
            "lower": j.lower, "upper": j.upper, "confidence": round(float(j.confidence), 4),
            **{k: round(float(v), 5) for k, v in j.extra.items()}}


def _rigid_rmse(X, labels, transforms, mult):
    """RMSE of the piecewise-rigid fit (fine parts, one transform each) before skinning refinement."""
    from ..geometry.rigid import apply
    m = torch.as_tensor(transforms)[torch.as_tensor(labels)]  # [N, T, 4, 4]
    pred = torch.einsum("ntij,nj->tni", m[:, :, :3, :3], torch.as_tensor(X[0])) + m[:, :, :3, 3].transpose(0, 1)
    e = ((pred.numpy() - X) ** 2).sum(-1)
    return float(np.sqrt((e * mult).sum() / (mult.sum() * len(X))))
