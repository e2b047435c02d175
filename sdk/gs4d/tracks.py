"""A 2-D track loss for stage 2 (Track4DGen is "tracking-guided"; the paper applies its tracking losses to the MV-VDM
in stage 1 -- this stage-2 term is the SDK's, off unless ``Fit4DConfig.lambda_track`` > 0).

Tracks come from the training videos themselves: a query grid inside each view's first-frame mask, tracked through
the frames by the weight-free Lucas-Kanade tracker (``sdk.tracking.klt_tracks``, forward-backward checked). Each
query is bound once to the canonical Gaussian it sees on the first frame (the front-most centre within ``radius_px``
of the query's pixel). The loss projects those Gaussians' deformed centres into the view and penalises their
distance to the tracks (Huber, in pixels), at the points the tracker still sees:

    L_track = mean_{(c, t, m) visible} huber(|pi_c(mu_g(c,m) + dx(mu_g(c,m), t)) - track_c(t, m)|)

With ``Fit4DConfig.track_bind = "mesh"`` a query is bound instead to the canonical *mesh*: the triangle and
(perspective-correct) barycentrics of the surface point its pixel sees on the first frame (as ``gt_tracks`` does), and
its deformed position is the barycentric combination of the deformed vertex Gaussians -- not one Gaussian that may
sit up to ``radius_px`` away from the query.

So the images' appearance no longer decides alone which Gaussian goes where: sliding along the surface, which the
images cannot see on low-texture fur, now costs the track distance. Ground-truth tracks (``sdk.tracking.gt_tracks``)
fit the same layout for tests; the evaluation uses the tracker only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..core.multiview import MultiViewVideo
from ..render.camera import Camera, project


@dataclass
class TrackTargets:
    gaussian: Tensor  # [C, M] int64: the canonical Gaussian each query is bound to (padding: 0, never visible)
    tracks: Tensor  # [C, T, M, 2] pixel positions (centres at +0.5)
    visible: Tensor  # [C, T, M] bool: the tracker sees the point (and the query is real, not padding)
    vertex_ids: Tensor | None = None  # [C, M, 3] int64: mesh-bound queries -- the vertices of the query's triangle
    bary: Tensor | None = None  # [C, M, 3]: its barycentric weights on them (None: bound to ``gaussian``)

    def points(self, vertices: Tensor) -> Tensor:
        """Mesh-bound queries' 3-D positions from deformed vertex positions vertices [F, V, 3] -> [C, F, M, 3]"""
        tri = vertices[:, self.vertex_ids]  # [F, C, M, 3, 3]
        return torch.einsum("cmb,fcmbk->cfmk", self.bary, tri)

    @property
    def n_queries(self) -> int:
        return int(self.visible[:, 0].sum())


def video_tracks(video: MultiViewVideo, grid: int = 15) -> tuple[list, list]:
    """Lucas-Kanade tracks of a ``grid`` x ``grid`` query grid inside every view's frame-0 mask
    -> (tracks: C x [T, M_c, 2], visible: C x [T, M_c])."""
    from ..tracking import klt_tracks, query_grid
    tracks, vis = [], []
    for c in range(video.n_views):
        q = query_grid(video.masks[c, 0], grid)
        tr, vi = klt_tracks(video.frames[c], q)
        tracks.append(tr)
        vis.append(vi)
    return tracks, vis


@torch.no_grad()
def bind_queries(means: Tensor, cams: Camera, queries: list, radius_px: float = 1.0,
                 depth_tol: float = 0.02) -> list:
    """Bind each query pixel to a canonical Gaussian: among the centres projecting within ``radius_px`` of it, the
    nearest (in pixels) of those within ``depth_tol`` (world units) of the front-most one.
    means [N, 3]; queries: C x [M_c, 2] -> C x [M_c] int64 (-1 where no centre is near)."""
    uv, z = project(means, cams)  # [C, N, 2], [C, N]
    out = []
    for c, q in enumerate(queries):
        qt = torch.as_tensor(np.asarray(q), dtype=uv.dtype, device=uv.device).reshape(-1, 2)
        d = torch.cdist(qt, uv[c])  # [M, N]
        near = (d <= radius_px) & (z[c][None] > 0)
        zz = torch.where(near, z[c][None].expand_as(d), torch.full_like(d, float("inf")))
        front = zz.min(1, keepdim=True).values
        ok = near & (zz <= front + depth_tol)
        pick = torch.where(ok, d, torch.full_like(d, float("inf"))).argmin(1)
        pick[~ok.any(1)] = -1
        out.append(pick)
    return out


def make_targets(means: Tensor, cams: Camera, tracks: list, visible: list, radius_px: float = 1.0,
                 depth_tol: float = 0.02) -> TrackTargets:
    """Pack per-view tracks (C x [T, M_c, 2], C x [T, M_c]) with their bound Gaussians (queries = tracks at t = 0)."""
    g = bind_queries(means, cams, [np.asarray(t)[0] for t in tracks], radius_px, depth_tol)
    c_n, t_n = len(tracks), np.asarray(tracks[0]).shape[0]
    m = max(len(x) for x in g)
    dev = means.device
    gauss = torch.zeros(c_n, m, dtype=torch.long, device=dev)
    tr = torch.zeros(c_n, t_n, m, 2, device=dev)
    vi = torch.zeros(c_n, t_n, m, dtype=torch.bool, device=dev)
    for c in range(c_n):
        k = len(g[c])
        ok = g[c] >= 0
        gauss[c, :k] = g[c].clamp_min(0)
        tr[c, :, :k] = torch.as_tensor(np.asarray(tracks[c]), dtype=torch.float32, device=dev)
        vi[c, :, :k] = torch.as_tensor(np.asarray(visible[c]), device=dev) & ok[None]
    return TrackTargets(gauss, tr, vi)


@torch.no_grad()
def bind_queries_to_mesh(vertices: Tensor, faces, cams: Camera, queries: list) -> list:
    """Bind each query pixel to the canonical mesh: the front-most triangle at its pixel and the perspective-correct
    barycentrics there (``sdk.render.raster.rasterize``, as ``sdk.tracking.gt_tracks``).
    vertices [V, 3], faces [F, 3]; queries: C x [M_c, 2] -> C x (vertex ids [M_c, 3] int64, bary [M_c, 3],
    hit [M_c] bool: False where the pixel sees no triangle)."""
    from ..render.raster import rasterize
    f = torch.as_tensor(np.asarray(faces), dtype=torch.long)
    fr = rasterize(vertices.detach().float().cpu(), f, cams.to("cpu"))
    out = []
    for c, q in enumerate(queries):
        px = np.clip(np.floor(np.asarray(q, float).reshape(-1, 2)).astype(int), 0, [cams.width - 1, cams.height - 1])
        fid = fr.face_id[c][px[:, 1], px[:, 0]]
        hit = fid >= 0
        out.append((f[fid.clamp_min(0)], fr.bary[c][px[:, 1], px[:, 0]].float(), hit))
    return out


def make_mesh_targets(vertices: Tensor, faces, cams: Camera, tracks: list, visible: list) -> TrackTargets:
    """``make_targets`` with the queries bound to the canonical mesh (``bind_queries_to_mesh``)."""
    b = bind_queries_to_mesh(vertices, faces, cams, [np.asarray(t)[0] for t in tracks])
    c_n, t_n = len(tracks), np.asarray(tracks[0]).shape[0]
    m = max(len(x[0]) for x in b)
    dev = vertices.device
    vid = torch.zeros(c_n, m, 3, dtype=torch.long, device=dev)
    bary = torch.zeros(c_n, m, 3, device=dev)
    tr = torch.zeros(c_n, t_n, m, 2, device=dev)
    vi = torch.zeros(c_n, t_n, m, dtype=torch.bool, device=dev)
    for c in range(c_n):
        ids, w, hit = b[c]
        k = len(ids)
        vid[c, :k] = ids.to(dev)
        bary[c, :k] = w.to(dev)
        tr[c, :, :k] = torch.as_tensor(np.asarray(tracks[c]), dtype=torch.float32, device=dev)
        vi[c, :, :k] = torch.as_tensor(np.asarray(visible[c]), device=dev) & hit.to(dev)[None]
    return TrackTargets(torch.zeros(c_n, m, dtype=torch.long, device=dev), tr, vi, vid, bary)


def huber(x: Tensor, delta: float) -> Tensor:
    """Huber of non-negative distances x: x^2 / (2 delta) below delta, x - delta / 2 above."""
    return torch.where(x < delta, 0.5 * x * x / delta, x - 0.5 * delta)


def track_loss(means: Tensor, cams: Camera, view_ids: Tensor, frame_ids: Tensor, targets: TrackTargets,
               delta_px: float = 2.0) -> Tensor:
    """means [B, N, 3]: the deformed centres of image b (view view_ids[b] at frame frame_ids[b]); cams: the B
    images' cameras -> the mean Huber pixel distance of the bound Gaussians to their tracks (0 when none is seen)."""
    vi = view_ids.to(means.device)
    fi = frame_ids.to(means.device)
    if targets.bary is not None:  # mesh-bound: the barycentric point of the deformed vertex Gaussians
        tri = means[torch.arange(len(vi), device=means.device)[:, None, None], targets.vertex_ids[vi]]  # [B, M, 3, 3]
        pts = torch.einsum("bmk,bmkc->bmc", targets.bary[vi], tri)
    else:
        g = targets.gaussian[vi]  # [B, M]
        pts = torch.gather(means, 1, g[..., None].expand(-1, -1, 3))  # [B, M, 3]
    uv, z = project(pts, cams)  # [B, M, 2]
    tgt = targets.tracks[vi, fi]  # [B, M, 2]
    w = (targets.visible[vi, fi] & (z > 0)).to(means.dtype)
    dist = (uv - tgt).square().sum(-1).clamp_min(1e-12).sqrt()
    return (huber(dist, delta_px) * w).sum() / w.sum().clamp_min(1.0)


def track_loss_views(points: Tensor, cams: Camera, frame_ids: Tensor, targets: TrackTargets,
                     delta_px: float = 2.0) -> Tensor:
    """Every view's tracks at the frames ``frame_ids`` [F] at once. points [C, F, M, 3]: the deformed centres of
    ``targets.gaussian`` (view c's queries) at those frames -> the mean Huber pixel distance (0 when none is seen)."""
    c_n, f_n, m, _ = points.shape
    uv, z = project(points.reshape(c_n, f_n * m, 3), cams)  # [C, F*M, 2]
    fi = frame_ids.to(points.device)
    tgt = targets.tracks[:, fi].reshape(c_n, f_n * m, 2)
    w = (targets.visible[:, fi].reshape(c_n, f_n * m) & (z > 0)).to(points.dtype)
    dist = (uv - tgt).square().sum(-1).clamp_min(1e-12).sqrt()
    return (huber(dist, delta_px) * w).sum() / w.sum().clamp_min(1.0)
