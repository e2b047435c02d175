"""Topology-consistent conversion of per-frame meshes (ShapeGen4D App. A.2): one template mesh deformed through
every frame.

Per frame t (source = the registered mesh of frame t-1, target = the raw mesh of frame t):

1. global similarity (rotation, translation, uniform scale) of the source onto the target: yaw/pitch grid + trimmed
   ICP on Chamfer correspondences (:mod:`.rigid`);
2. vertex refinement in Nicolet et al.'s ``u = (I + lambda L) x`` parameterisation (:mod:`.largesteps`) with uniform
   Adam, minimising two-way Chamfer + point-to-plane + ARAP (:mod:`.arap`) + edge-length terms.

``mode="chain"`` is the paper's: the ARAP / edge-length reference is the aligned registration of frame t-1 (M'_t is
treated as the rest shape of the next step). ``mode="template"``: the reference is always the template (frame 0,
scaled by the accumulated similarity scale), warm-started from frame t-1, so errors do not compound in the rest shape.
The paper's differentiable-rendering term is replaced by 3-D terms (mesh-to-mesh registration; see docs).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..core import Mesh, MeshFrames, MeshSequence
from ..errors import InvalidInputError
from .arap import ARAP
from .kernels import knn1, sample_surface, unique_edges, vertex_normals
from .largesteps import AdamUniform, SmoothParam
from .rigid import Similarity, rigid_align


@dataclass
class RegistrationConfig:
    mode: str = "template"  # "template" | "chain" (the paper's)
    iterations: int = 60  # refinement steps per frame (ours; V2M4 uses 1000 with rendered views)
    lam: float = 20.0  # largesteps lambda in (I + lambda L) (ours; V2M4 uses 99 with render losses)
    lr: float = 3e-3  # AdamUniform step in u-space, in units of the frame-0 bbox diagonal (ours)
    w_chamfer: float = 1.0  # two-way Chamfer (squared distances)
    w_point_plane: float = 1.0  # point-to-plane to the nearest target sample
    w_arap: float = 200.0  # ARAP (mean squared residual per half-edge) (ours, tuned on CesiumMan MC128)
    w_edge: float = 20.0  # edge-length consistency (ours)
    target_samples: int = 30000  # points on each target surface (plus its vertices, up to this many)
    nn_every: int = 5  # recompute correspondences every N steps
    normal_gate: float = 0.0  # drop correspondences whose normals disagree (cos below this)
    extrapolate: float = 1.0  # initialise frame t with x_{t-1} + this x (its non-rigid motion from t-2) (ours)
    rigid: bool = True  # global similarity per pair
    yaw_steps: int = 12  # yaw grid for the similarity initialisation (tried when ICP from identity is poor)
    grid_trigger: float = 0.02  # ... i.e. its Chamfer above this fraction of the diagonal (ours)
    pitches: tuple = (-20.0, -10.0, 0.0, 10.0, 20.0)  # pitch grid (degrees; ICP basins in tilt are narrow)
    up_axis: int = 1  # yaw axis (1 = Y)
    scale: bool = True  # similarity includes uniform scale
    cut_tol: float = 0.08  # Chamfer after alignment above this fraction of the diagonal = a cut (error)
    scale_tol: float = 4.0  # bbox diagonal ratio to frame 0 beyond this = wildly different scale (error)
    device: str = "cpu"
    solver: str = "auto"  # largesteps solve: "auto" (LU on the CPU, dense inverse / CG on a GPU) | "lu" | "dense" | "cg"
    nn: str = "auto"  # nearest neighbours: "auto" (k-d tree on the CPU, device mat-mul + argmin on a GPU) | "kdtree" | "brute"
    seed: int = 0


def check_frames(frames: MeshFrames, cfg: RegistrationConfig) -> None:
    """Errors naming the frame: too few frames, empty/NaN frames, wildly different scales."""
    frames.validate(min_frames=2)
    d0 = frames.frames[0].bbox_diagonal
    if not d0 > 0:
        raise InvalidInputError("frame 0 is degenerate (zero-size bounding box)", field="frame 0", source=frames.source)
    for t, m in enumerate(frames.frames):
        r = m.bbox_diagonal / d0
        if not (1 / cfg.scale_tol <= r <= cfg.scale_tol):
            raise InvalidInputError(f"frame {t} has a wildly different scale ({r:.3g}x frame 0's bounding-box "
                                    f"diagonal; allowed 1/{cfg.scale_tol:g}..{cfg.scale_tol:g})", field=f"frame {t}",
                                    source=frames.source)


def _target(m: Mesh, n: int, rng, c0, d0, dev):
    v = (m.vertices - c0) / d0
    pts, fi, _ = sample_surface(v, m.faces, max(n - len(v), n // 2), rng)
    fn = np.cross(v[m.faces[:, 1]] - v[m.faces[:, 0]], v[m.faces[:, 2]] - v[m.faces[:, 0]])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-20)
    vn = vertex_normals(torch.as_tensor(v), torch.as_tensor(m.faces)).numpy()
    if len(v) <= n // 2:
        pts, nrm = np.r_[v, pts], np.r_[vn, fn[fi]]
    else:
        nrm = fn[fi]
    return (torch.as_tensor(pts, dtype=torch.float32, device=dev), torch.as_tensor(nrm, dtype=torch.float32, device=dev))


def _refine(x0: torch.Tensor, faces: torch.Tensor, edges: np.ndarray, rest: torch.Tensor, tgt, tgt_n,
            cfg: RegistrationConfig, param: SmoothParam):
    arap = ARAP(rest, edges)
    e = torch.as_tensor(edges, device=x0.device)
    rest_len = (rest[e[:, 0]] - rest[e[:, 1]]).norm(dim=-1).clamp_min(1e-12)
    u = param.to_u(x0).detach().clone().requires_grad_(True)
    opt = AdamUniform([u], lr=cfg.lr)
    j_st = j_ts = None
    w_st = w_ts = None
    nn = cfg.nn if cfg.nn != "auto" else ("kdtree" if tgt.device.type == "cpu" else "brute")
    tree = None
    if nn == "kdtree":
        from scipy.spatial import cKDTree
        tree = cKDTree(tgt.cpu().numpy())
    for it in range(cfg.iterations):
        x = param.to_x(u)
        if it % cfg.nn_every == 0:
            with torch.no_grad():
                xn = vertex_normals(x, faces)
                _, j_st = knn1(x, tgt, tree=tree, method=nn)  # template -> target
                _, j_ts = knn1(tgt, x, method=nn)  # target -> template
                w_st = ((xn * tgt_n[j_st]).sum(-1) >= cfg.normal_gate).to(x.dtype)
                w_ts = ((tgt_n * xn[j_ts]).sum(-1) >= cfg.normal_gate).to(x.dtype)
                Rd = arap.rotated_rest(arap.rotations(x))
        d_st = x - tgt[j_st]
        d_ts = tgt - x[j_ts]
        cd = (w_st * (d_st ** 2).sum(-1)).sum() / w_st.sum().clamp_min(1) + \
            (w_ts * (d_ts ** 2).sum(-1)).sum() / w_ts.sum().clamp_min(1)
        p2p = (w_st * ((d_st * tgt_n[j_st]).sum(-1)) ** 2).sum() / w_st.sum().clamp_min(1)
        ar = arap.energy(x, rotated=Rd) / len(arap.i)
        el = (((x[e[:, 0]] - x[e[:, 1]]).norm(dim=-1) - rest_len) ** 2).mean()
        loss = cfg.w_chamfer * cd + cfg.w_point_plane * p2p + cfg.w_arap * ar + cfg.w_edge * el
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return param.to_x(u).detach(), float(loss)  # the loop's only host sync


def register_frames(frames: MeshFrames | MeshSequence, config: RegistrationConfig | None = None, *,
                    template: Mesh | None = None, progress=None) -> tuple[MeshSequence, dict]:
    """Register per-frame meshes of unrelated topology into one topology.

    ``template``: the mesh deformed through the frames (default: frame 0's mesh, with its uvs). Returns the
    registered :class:`MeshSequence` (template faces and uvs, frame vertices in the input coordinates) and a report
    (per-frame similarity, Chamfer after alignment in % of the diagonal, seconds).
    """
    cfg = config or RegistrationConfig()
    if cfg.mode not in ("template", "chain"):
        raise InvalidInputError(f"mode must be 'template' or 'chain', got {cfg.mode!r}", field="mode")
    if isinstance(frames, MeshSequence):
        if frames.faces is None:
            raise InvalidInputError("registration needs faces", field="faces", source=frames.source)
        frames = MeshFrames([Mesh(v, frames.faces) for v in frames.vertices], frames.fps, frames.name, frames.source)
    check_frames(frames, cfg)
    t_start = time.perf_counter()
    dev = torch.device(cfg.device)
    rng = np.random.default_rng(cfg.seed)
    tmpl = template or frames.frames[0]
    f0 = frames.frames[0]
    c0 = 0.5 * (f0.vertices.min(0) + f0.vertices.max(0))
    d0 = f0.bbox_diagonal
    faces_np = tmpl.faces
    faces = torch.as_tensor(faces_np, device=dev)
    edges = unique_edges(faces_np)
    param = SmoothParam(tmpl.n_vertices, edges, cfg.lam, dev, method=cfg.solver)
    t_setup = time.perf_counter()
    rest0 = torch.as_tensor((tmpl.vertices - c0) / d0, dtype=torch.float32, device=dev)
    out = np.zeros((frames.n_frames, tmpl.n_vertices, 3))
    per_frame = []
    x_prev = rest0
    x_prev2, T_prev = None, Similarity.identity()
    scale_acc = 1.0
    start = 0
    if template is None:
        out[0] = tmpl.vertices
        per_frame.append({"frame": 0, "scale": 1.0, "chamfer_aligned_pct": 0.0, "seconds": 0.0})
        start = 1
    for t in range(start, frames.n_frames):
        ts = time.perf_counter()
        tgt, tgt_n = _target(frames.frames[t], cfg.target_samples, rng, c0, d0, dev)
        src_np = x_prev.cpu().double().numpy()
        if cfg.extrapolate and x_prev2 is not None:
            # constant-velocity prediction of the non-rigid motion (the similarity part is re-estimated below)
            src_np = src_np + cfg.extrapolate * (src_np - T_prev.apply(x_prev2.cpu().double().numpy()))
        if cfg.rigid:
            tg_np = tgt.cpu().double().numpy()
            T, cd_al = rigid_align(src_np, tg_np, yaw_steps=cfg.yaw_steps, pitches=cfg.pitches, up_axis=cfg.up_axis,
                                   scale=cfg.scale, grid_trigger=cfg.grid_trigger, seed=cfg.seed + t)
        else:
            from .rigid import chamfer_pts
            T, cd_al = Similarity.identity(), chamfer_pts(src_np, tgt.cpu().double().numpy())
        if cd_al > cfg.cut_tol:
            raise InvalidInputError(f"frame {t} is far from frame {t - 1} even after a similarity alignment (Chamfer "
                                    f"{100 * cd_al:.1f}% of the diagonal > {100 * cfg.cut_tol:g}%): a cut or a "
                                    f"different object", field=f"frame {t}", source=frames.source)
        x_init = torch.as_tensor(T.apply(src_np), dtype=torch.float32, device=dev)
        scale_acc *= T.s
        if cfg.mode == "chain":
            rest = x_init
        else:
            rest = rest0 * scale_acc  # ARAP and edge lengths are rotation/translation invariant, not scale invariant
        t_rig = time.perf_counter()
        x, loss = _refine(x_init, faces, edges, rest, tgt, tgt_n, cfg, param)
        out[t] = x.cpu().double().numpy() * d0 + c0
        t_ref = time.perf_counter()
        x_prev2, x_prev, T_prev = x_prev, x, T
        per_frame.append({"frame": t, "scale": float(T.s), "rotation_deg": float(np.degrees(np.arccos(
            np.clip((np.trace(T.R) - 1) / 2, -1, 1)))), "chamfer_aligned_pct": 100 * cd_al, "loss": loss,
            "seconds": time.perf_counter() - ts, "seconds_target_rigid": t_rig - ts, "seconds_refine": t_ref - t_rig})
        if progress:
            progress(t / frames.n_frames, f"frame {t}/{frames.n_frames - 1}")
    seq = MeshSequence(out, faces_np, frames.fps, frames.name, frames.source, uvs=tmpl.uvs,
                       look=tmpl.look.static() if tmpl.look is not None else None)
    secs = time.perf_counter() - t_start
    report = {"mode": cfg.mode, "frames": frames.n_frames, "vertices": tmpl.n_vertices, "seconds": secs,
              "seconds_setup": t_setup - t_start, "solver": param.method,
              "seconds_per_frame": secs / max(frames.n_frames - start, 1), "device": str(dev),
              "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
              "per_frame": per_frame}
    return seq, report
