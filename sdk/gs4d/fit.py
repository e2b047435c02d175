"""Fit a 4D Gaussian model to multi-view videos (Track4DGen stage 2, Sec. 3.3 + supp. Sec. 6).

Schedule: ``iterations`` (paper: 750 + 250 = 1000) at ``batch`` images per step (paper: 64 = 4 views x 16 frames);
the last ``refine_iterations`` (paper: 250) switch on ARAP (lambda6 = 10) and, when a ``guidance`` callable is given,
the 4D-SDS term (lambda5 = 0.01). Learning rates: 0.01 for the HexPlanes (paper) and 5e-3 for the deformation MLPs
(SDK; the paper's 1e-4 is too slow for 1000 iterations); the canonical Gaussians' rates are the SDK's (the paper calls
them nominal). Values marked "SDK" are not the paper's; ``PAPER_SCHEDULE`` holds the paper's values of the fields the
SDK changed, for ablations (``Fit4DConfig(**PAPER_SCHEDULE)``).

``TRACKING_GUIDED`` (SDK preset, docs/gaussians.md 3.6) adds a 2-D track loss against Lucas-Kanade tracks of the
training views (``tracks.py``) and ARAP from the first step on a subsampled graph; it is not the default because it
missed an image goal on the H200 table. ``MESH_BOUND`` (SDK preset, docs/gaussians.md 3.7) makes the motion mesh-bound:
the field moves only the vertex Gaussians, face Gaussians follow their triangles, ARAP runs on the mesh's own edges
and the tracks are bound to the canonical surface; CPU-measured only, so not the default.

Not reproduced here: the diffusion-feature input (needs the trained MV-VDM; ``diff_features`` is the machinery).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from ..core.gaussians import GaussianCloud
from ..core.multiview import MultiViewVideo
from ..errors import InvalidInputError
from ..render.camera import Camera, project
from ..render.gaussians import gaussians_from_mesh, render_gaussians
from .losses import (LAMBDA_ARAP, LAMBDA_REC, LAMBDA_SDS, arap_loss, knn_graph, mesh_edge_graph,
                     reconstruction_loss)
from .model import Gaussians4D, barycentric_embedding
from .tracks import track_loss, track_loss_views


@dataclass
class Fit4DConfig:
    iterations: int = 1000  # paper: 750 reconstruction + 250 refinement
    refine_iterations: int = 250  # paper: the last 250 add 4D-SDS and ARAP
    progressive_iterations: int = 750  # paper: "progressive motion reconstruction" -- frames are added one by one
    # (Animate3D: 50 iterations per frame) over these first iterations; 0 = all frames from the start
    batch: int = 64  # images per step (paper: 4 views x 16 frames)
    lr_planes: float = 0.01  # paper
    lr_mlp: float = 5e-3  # SDK (paper: 1e-4 -- at 1000 iterations the field then moves the Gaussians by a fraction
    # of the true motion: docs/gaussians.md 3.1; ``--set lr_mlp=1e-4`` gives the paper's value)
    lr_means: float = 0.0  # canonical centres frozen (Animate3D: "nominal" static rates); > 0 lets them drift
    # jointly with the field (a gauge freedom the images cannot see)
    lr_sh: float = 5e-3  # SDK (3DGS: 2.5e-3 DC)
    lr_opacity: float = 0.02  # SDK (3DGS: 0.05)
    lr_scales: float = 5e-3  # SDK (3DGS: 5e-3)
    lr_quats: float = 1e-3  # SDK (3DGS: 1e-3)
    lr_final_factor: float = 0.1  # SDK: every rate decays exponentially to this fraction at the last step
    lambda_rec: float = LAMBDA_REC
    lambda_arap: float = LAMBDA_ARAP  # paper (lambda6 = 10); on the subsampled graph 10 is ~1 % of the image term:
    # TRACKING_GUIDED uses 1e4 (docs/gaussians.md 3.6)
    lambda_sds: float = LAMBDA_SDS
    arap_always: bool = False  # SDK option: ARAP from the first step (paper: refinement only)
    carry_forward: bool = True  # SDK: when the progressive schedule adds a frame, the time planes after the last
    # fitted frame are set to its values, so the new frame starts from the previous frame's pose (not the canonical)
    anchor_canonical: bool = True  # SDK: dx(x, t) - dx(x, t_0), the first frame is exactly the canonical pose
    lambda_canonical: float = 0.0  # SDK option: penalise |delta x| at the first frame (the canonical pose)
    lambda_track: float = 0.0  # SDK option (not in the paper's stage 2): weight of the 2-D track loss (``sdk.gs4d.tracks``,
    # Huber pixels of the bound Gaussians' projections vs Lucas-Kanade tracks of the training videos); 0 = off
    track_grid: int = 15  # SDK: queries per view = this grid inside the frame-0 mask (the paper's stage-1 15x15 grid)
    track_delta_px: float = 2.0  # SDK: Huber threshold in pixels (the tracker's errors beyond it count linearly)
    track_radius_px: float = 1.0  # SDK: a query binds to a front-most canonical centre within this many pixels
    track_all_frames: bool = True  # SDK: each step scores every view's tracks at every frame fitted so far (the
    # bound Gaussians are few, so their field evaluation is cheap); False = only the batch's (view, frame) images
    lambda_plane_tv: float = 0.0  # SDK option (4DGaussians: plane_tv_weight 2e-4): spatial smoothness of the field
    lambda_time_smooth: float = 0.0  # SDK option (4DGaussians: time_smoothness_weight 1e-3)
    lambda_time_l1: float = 0.0  # SDK option (4DGaussians: l1_time_planes 1e-4)
    arap_k: int = 3  # Animate3D (SC-GS) K; its 0.01 ball radius is not used
    arap_nodes: int = 512  # Animate3D
    arap_graph: int = 0  # SDK option: > 0 builds the ARAP graph on this many canonical centres (a fixed random
    # subset, duplicates at seams removed) and evaluates every one of them each step; 0 = the K-NN graph of all the
    # centres with ``arap_nodes`` sampled per step (Animate3D). With ~50 Gaussians per triangle the K = 3 neighbours of
    # every centre lie in its own triangle (or are its seam duplicates, at distance 0), so that graph ties nothing
    # across the surface
    sh_degree: int = 3  # spec suggestion (paper: unstated)
    time_basis: int = 4  # w of Eq. 8 (spec suggestion; 1 = static SH)
    sh_time_start: float = 0.75  # SDK: the 4D-SH time coefficients (i >= 1) stay frozen for this fraction of the
    # iterations (motion first): time-varying colour can otherwise fake the motion and the field stops tracking;
    # 0 = from the start (the paper gives no schedule)
    spatial_resolution: int = 64  # spec (paper "[100,100,8]" is ambiguous)
    temporal_resolution: int = 0  # 0 -> max(8, frames // 2) (paper: 8; 4DGaussians: half the frame count)
    spatial_init: tuple = (0.1, 0.5)  # 4DGaussians: spatial planes ~ U(0.1, 0.5) (the paper does not say)
    feature_dim: int = 16  # paper
    multires: tuple = (1, 2)  # 4DGaussians D-NeRF config
    width: int = 64  # 4DGaussians net_width
    n_gaussians: int = 30000  # SDK: canonical Gaussians from the mesh (vertices + per-face samples)
    bind_to_mesh: bool = False  # SDK option: Gaussians born on a face follow its deformed vertices (needs ``faces``)
    mesh_bound: bool = False  # SDK option: the mesh-bound model -- the field moves only the vertex Gaussians (it is
    # evaluated at them only) and every face Gaussian follows its triangle (centre barycentric, rotation the
    # triangle's); a sliding vertex then distorts the texture of its adjacent triangles (docs/gaussians.md 3.7)
    arap_mesh_edges: bool = False  # SDK option: ARAP on the canonical mesh's own edges (1-ring of the welded vertex
    # positions, geodesic by construction), on the vertex Gaussians, every step from the first; needs ``faces``
    lambda_arap_mesh: float = 1e4  # SDK: its weight (same scale as TRACKING_GUIDED's Euclidean-graph ARAP)
    track_bind: str = "gaussian"  # SDK: "gaussian" = a track query follows the front-most canonical Gaussian near
    # its pixel; "mesh" = the canonical mesh's surface point at its pixel (triangle + barycentrics, as gt_tracks),
    # carried by the deformed vertex Gaussians (needs ``faces``)
    prefit_iterations: int = 0  # SDK: optional static pre-fit of the canonical Gaussians on frame 0 (coarse stage,
    # as 4DGaussians does): appearance, and the centres at ``prefit_lr_means``, before the field is fitted
    prefit_lr_means: float = 0.0  # SDK: centres' rate during the pre-fit only (the field is fitted with lr_means)
    freeze_appearance: float = 0.0  # SDK option: the canonical appearance (SH, opacity, scales, rotations) is frozen
    # for this fraction of the field's iterations (after any pre-fit), so the images' residual can only be explained
    # by motion; 0 = appearance and motion are fitted together (the paper)
    backend: str = "auto"
    max_seconds: float = 0.0  # SDK: stop the fit after this wall time (0 = no limit); the iterations done are kept
    seed: int = 0
    log_every: int = 50


APPEARANCE = ("sh", "opacity", "scales", "quats")  # the canonical parameter groups ``freeze_appearance`` holds
PAPER_SCHEDULE = dict(lr_mlp=1e-4, carry_forward=False, sh_time_start=0.0)  # the paper's values (supp. Sec. 6; the
# paper states no carry-forward and no 4D-SH schedule) of the fields whose SDK defaults differ
TRACKING_GUIDED = dict(lambda_track=1.0, arap_always=True, arap_graph=2000, arap_k=6, lambda_arap=1e4)  # SDK preset
# (docs/gaussians.md 3.6, measured on the H200): the 2-D track loss plus ARAP from the start on a subsampled graph.
# It halves the median vertex error (dense: 1.1-3.7 % vs 2.4-7.3 %) but not the RMSE, and costs CesiumMan dense24
# its image goal (32.3 dB < 33), so it is not the default; ``Fit4DConfig(**TRACKING_GUIDED)`` / ``--preset tracking``
MESH_BOUND = dict(mesh_bound=True, arap_mesh_edges=True, lambda_arap_mesh=1e4, lambda_track=1.0, track_bind="mesh")
# SDK preset (docs/gaussians.md 3.7, measured on the H200): only the mesh vertices move, face Gaussians follow their
# triangles, ARAP on the mesh's own edges, tracks bound to the canonical surface; ``--preset mesh``. Dense24 motion
# 2.1-6.9 % RMSE (median 0.76-2.1 %), the best of the three settings, but CesiumMan's held-out PSNR is 29.9 dB (< 33),
# so it is not the default. (lambda_track 10 was slightly better on the 48-px CPU ablation; not measured on the H200.)


@dataclass
class FitResult:
    model: Gaussians4D
    config: Fit4DConfig
    history: list = field(default_factory=list)  # (iteration, loss, rec, arap, track)
    seconds: float = 0.0
    iterations_done: int = 0
    canonical_vertices: int = 0  # the first ``canonical_vertices`` Gaussians sit on the mesh vertices

    def summary(self) -> dict:
        return dict(seconds=self.seconds, iterations=self.config.iterations, iterations_done=self.iterations_done,
                    gaussians=self.model.n,
                    final_loss=self.history[-1][1] if self.history else None, config=asdict(self.config))


def canonical_from_mesh(vertices, faces, n_gaussians: int = 30000, vertex_colors=None, uvs=None, texture=None,
                        textured=None) -> GaussianCloud:
    """Canonical Gaussians: one per vertex + enough per face to reach about ``n_gaussians``."""
    nv, nf = len(vertices), len(faces)
    per_face = max(1, int(math.ceil((n_gaussians - nv) / max(nf, 1))))
    return gaussians_from_mesh(vertices, faces, vertex_colors=vertex_colors, uvs=uvs, texture=texture,
                               textured=textured, per_face=per_face)


def video_cameras(video: MultiViewVideo, device="cpu") -> Camera:
    w2c = torch.as_tensor(video.world_to_cam, dtype=torch.float32, device=device)
    z = torch.zeros(video.n_views, device=device)
    return Camera(w2c, torch.as_tensor(video.focal, dtype=torch.float32, device=device), video.width, video.height,
                  z, z.clone())


def _check_cameras_see(points: np.ndarray, cams: Camera, names) -> None:
    uv, z = project(torch.as_tensor(points, dtype=torch.float32, device=cams.device), cams)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < cams.width) & (uv[..., 1] >= 0) & (uv[..., 1] < cams.height) & (z > 0)
    frac = inside.float().mean(1)
    for i in range(len(cams)):
        if float(frac[i]) < 0.5:
            raise InvalidInputError(f"camera of view {i} ({names[i]}) does not see the object: only "
                                    f"{100 * float(frac[i]):.0f}% of the canonical Gaussians project into its image",
                                    field=f"cameras[{i}]")


def _select(cams: Camera, idx: torch.Tensor) -> Camera:
    return Camera(cams.world_to_cam[idx], cams.focal[idx], cams.width, cams.height, cams.azimuth[idx],
                  cams.elevation[idx])


def render_model(model: Gaussians4D, cams: Camera, times, background: float, backend: str = "auto",
                 deform: bool = True):
    """Render camera c at normalised time times[c] -> SplatResult. cams: C cameras, times: [C] floats."""
    times = [float(t) for t in times]
    uniq = sorted(set(times))
    means, quats, scales, op, sh = model.at_times(uniq, deform=deform)
    pos = torch.tensor([uniq.index(t) for t in times], device=model.means.device)
    return render_gaussians(means[pos], quats[pos], scales[pos], op, camera=cams, sh=sh[pos],
                            background=background, backend=backend)


def fit_4dgs(video: MultiViewVideo, canonical: GaussianCloud, config: Fit4DConfig | None = None, *,
             device="cpu", progress: Callable[[float, str], None] | None = None,
             guidance: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
             canonical_vertices: int = 0, faces=None, tracks: tuple | None = None) -> FitResult:
    """Fit G_4D to ``video``. ``guidance(rgb [B, H, W, 3], view_ids [B], times [B]) -> loss`` is the optional 4D-SDS
    term (e.g. ``sds_x0_loss`` of a VAE-encoded render through an MV-VDM), active in the refinement phase.
    ``tracks`` = (C x [T, M_c, 2], C x [T, M_c]) replaces the Lucas-Kanade tracks of the track loss (tests pass
    ground-truth tracks; the evaluation never does)."""
    cfg = config or Fit4DConfig()
    video.validate()
    canonical.validate()
    if cfg.iterations < 1 or cfg.batch < 1:
        raise InvalidInputError("iterations and batch must be >= 1", field="config")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    cams = video_cameras(video, device)
    _check_cameras_see(canonical.means, cams, video.view_names)
    v, t_n = video.n_views, video.n_frames
    gt_rgb = torch.as_tensor(video.frames, device=device)  # [V, T, H, W, 3]
    gt_mask = torch.as_tensor(video.masks, device=device)
    times = torch.as_tensor(video.times, dtype=torch.float32)
    tres = cfg.temporal_resolution or max(8, t_n // 2)
    model = Gaussians4D(canonical, sh_degree=cfg.sh_degree, time_basis=max(1, cfg.time_basis),
                        spatial_resolution=cfg.spatial_resolution, temporal_resolution=tres,
                        feature_dim=cfg.feature_dim, multires=tuple(cfg.multires), width=cfg.width,
                        anchor_time=float(times[0]) if cfg.anchor_canonical else None,
                        spatial_init=tuple(cfg.spatial_init)).to(device)
    if cfg.track_bind not in ("gaussian", "mesh"):
        raise InvalidInputError(f"track_bind must be 'gaussian' or 'mesh', got {cfg.track_bind!r}", field="track_bind")
    needs_mesh = [n for n, on in (("bind_to_mesh", cfg.bind_to_mesh), ("mesh_bound", cfg.mesh_bound),
                                  ("arap_mesh_edges", cfg.arap_mesh_edges),
                                  ("track_bind=mesh", cfg.track_bind == "mesh" and cfg.lambda_track > 0)) if on]
    if needs_mesh and (faces is None or canonical_vertices <= 0):
        raise InvalidInputError(f"{', '.join(needs_mesh)} need(s) the canonical mesh's faces and canonical_vertices",
                                field="faces")
    if cfg.bind_to_mesh or cfg.mesh_bound:
        fi, bary = barycentric_embedding(canonical.means, canonical.means[:canonical_vertices], faces,
                                         canonical_vertices)
        model.bind_to_mesh(canonical_vertices, faces, fi, bary, vertex_field_only=cfg.mesh_bound)
    mesh_graph = None
    if cfg.arap_mesh_edges:
        rep, mnbr, mw = mesh_edge_graph(canonical.means[:canonical_vertices], faces)
        mesh_graph = (rep.to(device), mnbr.to(device), mw.to(device))
    groups = [dict(params=model.field.grid.plane_parameters(), lr=cfg.lr_planes, name="planes"),
              dict(params=model.field.mlp_parameters(), lr=cfg.lr_mlp, name="mlp"),
              dict(params=[model.means], lr=cfg.lr_means, name="means"),
              dict(params=[model.sh], lr=cfg.lr_sh, name="sh"),
              dict(params=[model.opacity_logits], lr=cfg.lr_opacity, name="opacity"),
              dict(params=[model.log_scales], lr=cfg.lr_scales, name="scales"),
              dict(params=[model.quats], lr=cfg.lr_quats, name="quats")]
    opt = torch.optim.Adam(groups, eps=1e-15)
    base_lr = [g["lr"] for g in opt.param_groups]
    rest = model.means.detach().clone()
    sub = None

    def arap_graph():
        nonlocal sub
        with torch.no_grad():
            if cfg.arap_graph > 0:
                _, first = np.unique(np.round(rest.cpu().numpy(), 6), axis=0, return_index=True)
                pick = torch.randperm(len(first), generator=gen)[: cfg.arap_graph]
                sub = torch.as_tensor(np.sort(first[pick.numpy()]), device=device)
                return knn_graph(rest[sub], cfg.arap_k)[0]
            return knn_graph(rest, cfg.arap_k)[0]

    nbr = arap_graph()
    targets = None
    t0 = time.perf_counter()
    if cfg.lambda_track > 0:
        from .tracks import make_mesh_targets, make_targets, video_tracks
        tr, vi = tracks if tracks is not None else video_tracks(video, cfg.track_grid)
        if cfg.track_bind == "mesh":
            targets = make_mesh_targets(model.means.detach()[:canonical_vertices], faces, cams, tr, vi)
        else:
            targets = make_targets(model.means.detach(), cams, tr, vi, cfg.track_radius_px)
    history = []
    pairs = torch.stack(torch.meshgrid(torch.arange(v), torch.arange(t_n), indexing="ij"), -1).reshape(-1, 2)

    freeze_sh_time = False
    front_all = None  # the last frame the progressive schedule has added (None: the batch decides)

    def step(view_ids, frame_ids, deform=True, refine=False):
        cam_b = _select(cams, view_ids.to(device))
        tb = times[frame_ids]
        tl = [float(x) for x in tb.tolist()]
        uniq = sorted(set(tl))
        pos = torch.tensor([uniq.index(x) for x in tl], device=device)
        try:
            means, quats, scales, op, sh = model.at_times(uniq, deform=deform)  # one field evaluation per step
            out = render_gaussians(means[pos], quats[pos], scales[pos], op, camera=cam_b, sh=sh[pos],
                                   background=video.background, backend=cfg.backend)
        except torch.cuda.OutOfMemoryError as e:  # pragma: no cover - GPU only
            raise InvalidInputError(f"GPU out of memory rendering {len(view_ids)} images of {video.width}x"
                                    f"{video.height} with {model.n} Gaussians; lower the batch or n_gaussians",
                                    field="batch") from e
        rec = reconstruction_loss(out.rgb, out.alpha, gt_rgb[view_ids, frame_ids], gt_mask[view_ids, frame_ids])
        loss = cfg.lambda_rec * rec
        arap = torch.zeros((), device=device)
        if (refine or cfg.arap_always) and cfg.lambda_arap > 0 and deform:
            if sub is not None:
                arap = sum(arap_loss(rest[sub], means[i][sub], nbr) for i in range(len(uniq))) / len(uniq)
            else:
                nodes = torch.randint(0, model.n, (min(cfg.arap_nodes, model.n),), generator=gen).to(device)
                arap = sum(arap_loss(rest, means[i], nbr, nodes) for i in range(len(uniq))) / len(uniq)
            loss = loss + cfg.lambda_arap * arap
        if mesh_graph is not None and cfg.lambda_arap_mesh > 0 and deform:
            rep, mnbr, mw = mesh_graph
            am = sum(arap_loss(rest[rep], means[i][rep], mnbr, weights=mw) for i in range(len(uniq))) / len(uniq)
            loss = loss + cfg.lambda_arap_mesh * am
            arap = arap + am
        trk = torch.zeros((), device=device)
        if targets is not None and deform:
            if cfg.track_all_frames and targets.bary is not None:  # mesh-bound queries: only the vertices' field
                fids = torch.arange(int(frame_ids.max()) + 1 if front_all is None else front_all + 1)
                nv = canonical_vertices
                x = model.means[:nv]
                tt = times[fids].to(device).repeat_interleave(nv)
                vtx = (x[None] + model.field(x[None].expand(len(fids), -1, -1).reshape(-1, 3), tt).position
                       .reshape(len(fids), nv, 3))
                trk = track_loss_views(targets.points(vtx), cams, fids, targets, cfg.track_delta_px)
            elif cfg.track_all_frames and not model.bound_vertices:
                fids = torch.arange(int(frame_ids.max()) + 1 if front_all is None else front_all + 1)
                x = model.means[targets.gaussian]  # [C, M, 3]
                c_n, m_n = x.shape[:2]
                pts = x.reshape(-1, 3)[None].expand(len(fids), -1, -1).reshape(-1, 3)
                tt = times[fids].to(device).repeat_interleave(c_n * m_n)
                moved = (pts + model.field(pts, tt).position).reshape(len(fids), c_n, m_n, 3).transpose(0, 1)
                trk = track_loss_views(moved, cams, fids, targets, cfg.track_delta_px)
            else:
                trk = track_loss(means[pos], cam_b, view_ids, frame_ids, targets, cfg.track_delta_px)
            loss = loss + cfg.lambda_track * trk
        if deform and (cfg.lambda_plane_tv > 0 or cfg.lambda_time_smooth > 0 or cfg.lambda_time_l1 > 0):
            tv, sm, l1 = model.field.grid.regularisers()
            loss = loss + cfg.lambda_plane_tv * tv + cfg.lambda_time_smooth * sm + cfg.lambda_time_l1 * l1
        if cfg.lambda_canonical > 0 and deform:
            nodes = torch.randint(0, model.n, (min(4096, model.n),), generator=gen).to(device)
            d0 = model.field(model.means[nodes], float(times[0])).position
            loss = loss + cfg.lambda_canonical * d0.square().sum(-1).mean()
        if refine and guidance is not None and cfg.lambda_sds > 0:
            loss = loss + cfg.lambda_sds * guidance(out.rgb, view_ids, tb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if freeze_sh_time and model.sh.grad is not None:
            model.sh.grad[..., 1:] = 0
        opt.step()
        return float(loss.detach()), float(rec.detach()), float(arap.detach()), float(trk.detach())

    # optional static pre-fit of the canonical Gaussians on frame 0 (deformation off)
    means_group = next(g for g in opt.param_groups if g["name"] == "means")
    means_group["lr"] = cfg.prefit_lr_means
    freeze_sh_time = cfg.sh_time_start > 0
    for it in range(cfg.prefit_iterations):
        views = torch.arange(v)
        step(views, torch.zeros(v, dtype=torch.long), deform=False)
    means_group["lr"] = cfg.lr_means
    if cfg.prefit_iterations and cfg.prefit_lr_means > 0:  # the ARAP rest shape and graph follow the pre-fit centres
        with torch.no_grad():
            rest.copy_(model.means.detach())
        nbr = arap_graph()
    n_it = cfg.iterations
    front = 0  # the latest frame added by the progressive schedule
    done = 0
    for it in range(n_it):
        if cfg.max_seconds > 0 and time.perf_counter() - t0 > cfg.max_seconds:
            break
        frac = it / max(n_it - 1, 1)
        frozen = it < cfg.freeze_appearance * n_it
        for g, lr in zip(opt.param_groups, base_lr):
            g["lr"] = lr * cfg.lr_final_factor ** frac * (0.0 if frozen and g["name"] in APPEARANCE else 1.0)
        active = pairs
        if cfg.progressive_iterations > 0 and it < cfg.progressive_iterations:
            per_frame = cfg.progressive_iterations / t_n
            new_front = min(int(it // per_frame), t_n - 1)
            active = pairs[pairs[:, 1] <= new_front]
        else:
            new_front = t_n - 1
        front_all = new_front
        if new_front > front:
            if cfg.carry_forward:
                model.field.grid.carry_time_forward(float(times[front]))
            front = new_front
        if len(active) <= cfg.batch:
            sel = active
        else:
            sel = active[torch.randperm(len(active), generator=gen)[: cfg.batch]]
        refine = it >= n_it - cfg.refine_iterations
        freeze_sh_time = it < cfg.sh_time_start * n_it
        loss, rec, arap, trk = step(sel[:, 0], sel[:, 1], refine=refine)
        if not math.isfinite(loss):
            raise InvalidInputError(f"the fit diverged at iteration {it} (loss {loss})", field="config")
        if it % cfg.log_every == 0 or it == n_it - 1:
            history.append((it, loss, rec, arap, trk))
            if progress is not None:
                progress((it + 1) / n_it, f"it {it + 1}/{n_it} rec {rec:.2e}")
        done = it + 1
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()
    return FitResult(model, cfg, history, time.perf_counter() - t0, done, canonical_vertices)
