"""A 4D Gaussian model: canonical Gaussians + a deformation field + 4D SH (Track4DGen Eq. 9).

G_4D(t) = {X + dX, C_4D(t), alpha, r + dr, s + ds}; parameters are stored unconstrained (log-scales, opacity logits).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..core.gaussians import SH_C0, GaussianCloud, GaussianSequence
from .deform import DeformationField
from .sh4d import sh_at_time


def triangle_frames(tri: Tensor) -> Tensor:
    """Orthonormal frames of triangles: columns (edge v0->v1, in-plane normal to it, face normal).
    tri [..., 3, 3] (three vertices) -> [..., 3, 3]"""
    e1, e2 = tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :]
    a = torch.nn.functional.normalize(e1, dim=-1, eps=1e-12)
    n = torch.nn.functional.normalize(torch.cross(e1, e2, dim=-1), dim=-1, eps=1e-12)
    b = torch.cross(n, a, dim=-1)
    return torch.stack([a, b, n], -1)


def rotmat_to_quat(r: Tensor) -> Tensor:
    """Rotation matrices [..., 3, 3] -> unit quaternions wxyz [..., 4] (Shepperd: the largest of the four
    candidates, so it is stable near 180 degrees)."""
    m00, m11, m22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    cand = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    k = cand.argmax(-1, keepdim=True)
    s = cand.clamp_min(1e-12).sqrt()  # 2|q_k| for each candidate
    w = torch.stack([s[..., 0] / 2, (r[..., 2, 1] - r[..., 1, 2]) / (2 * s[..., 0]),
                     (r[..., 0, 2] - r[..., 2, 0]) / (2 * s[..., 0]), (r[..., 1, 0] - r[..., 0, 1]) / (2 * s[..., 0])], -1)
    x = torch.stack([(r[..., 2, 1] - r[..., 1, 2]) / (2 * s[..., 1]), s[..., 1] / 2,
                     (r[..., 0, 1] + r[..., 1, 0]) / (2 * s[..., 1]), (r[..., 0, 2] + r[..., 2, 0]) / (2 * s[..., 1])], -1)
    y = torch.stack([(r[..., 0, 2] - r[..., 2, 0]) / (2 * s[..., 2]), (r[..., 0, 1] + r[..., 1, 0]) / (2 * s[..., 2]),
                     s[..., 2] / 2, (r[..., 1, 2] + r[..., 2, 1]) / (2 * s[..., 2])], -1)
    z = torch.stack([(r[..., 1, 0] - r[..., 0, 1]) / (2 * s[..., 3]), (r[..., 0, 2] + r[..., 2, 0]) / (2 * s[..., 3]),
                     (r[..., 1, 2] + r[..., 2, 1]) / (2 * s[..., 3]), s[..., 3] / 2], -1)
    q = torch.stack([w, x, y, z], -2)  # [..., 4 candidates, 4]
    q = torch.gather(q, -2, k[..., None].expand(*k.shape[:-1], 1, 4)).squeeze(-2)
    return q * torch.where(q[..., :1] < 0, -1.0, 1.0)


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product a * b of wxyz quaternions [..., 4]"""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                        aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def _logit(x: Tensor) -> Tensor:
    x = x.clamp(1e-4, 1 - 1e-4)
    return torch.log(x / (1 - x))


def barycentric_embedding(means: np.ndarray, vertices: np.ndarray, faces: np.ndarray, n_vertices: int):
    """The canonical Gaussians of ``canonical_from_mesh`` as (face index, barycentric weights) so they can be carried
    by a known vertex motion: the first ``n_vertices`` are the vertices, the rest ``per_face`` samples per face in
    face order. -> (face [N - V] int, bary [N - V, 3])"""
    rest = np.asarray(means[n_vertices:], np.float64)
    nf = len(faces)
    k = len(rest) // max(nf, 1)
    face = np.repeat(np.arange(nf), k)
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)[face]]  # [M, 3, 3]
    e1, e2, d = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], rest - tri[:, 0]
    a = np.stack([e1, e2], -1)  # [M, 3, 2]
    uv = np.einsum("mij,mj->mi", np.linalg.pinv(a), d)  # least squares in each triangle's plane
    return face, np.stack([1 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], 1)


class Gaussians4D(nn.Module):
    def __init__(self, cloud: GaussianCloud, bounds: Tensor | None = None, *, sh_degree: int = 3,
                 time_basis: int = 4, spatial_resolution: int = 64, temporal_resolution: int = 8,
                 feature_dim: int = 16, multires=(1, 2), width: int = 64, extra_dim: int = 0,
                 bounds_margin: float = 0.5, anchor_time: float | None = None, spatial_init=(0.1, 0.5)):
        super().__init__()
        means = torch.as_tensor(cloud.means, dtype=torch.float32)
        if bounds is None:
            lo, hi = means.min(0).values, means.max(0).values
            pad = (hi - lo).max() * bounds_margin
            bounds = torch.stack([lo - pad, hi + pad])
        self.means = nn.Parameter(means.clone())
        self.quats = nn.Parameter(torch.as_tensor(cloud.quats, dtype=torch.float32).clone())
        self.log_scales = nn.Parameter(torch.log(torch.as_tensor(cloud.scales, dtype=torch.float32).clamp_min(1e-6)))
        self.opacity_logits = nn.Parameter(_logit(torch.as_tensor(cloud.opacities, dtype=torch.float32)))
        k = (sh_degree + 1) ** 2
        sh = torch.zeros(cloud.n, k, 3, time_basis)
        src = torch.as_tensor(cloud.sh, dtype=torch.float32)
        kk = min(k, src.shape[1])
        sh[:, :kk, :, 0] = src[:, :kk]
        self.sh = nn.Parameter(sh)
        self.sh_degree = sh_degree
        self.time_basis = time_basis
        self.field = DeformationField(bounds, spatial_resolution, temporal_resolution, feature_dim, multires, width,
                                      extra_dim, anchor_time=anchor_time, spatial_init=spatial_init)
        self.bound_vertices = 0  # > 0 after ``bind_to_mesh``
        self.register_buffer("bound_faces", torch.zeros(0, 3, dtype=torch.long))  # [M, 3] vertex ids per bound Gaussian
        self.register_buffer("bound_bary", torch.zeros(0, 3))  # [M, 3]
        self.vertex_field_only = False  # mesh-bound: the field moves only the vertex Gaussians (``bind_to_mesh``)
        self.register_buffer("bound_frames", torch.zeros(0, 3, 3))  # [M, 3, 3] canonical triangle frames

    def bind_to_mesh(self, n_vertices: int, faces, face_index, bary, vertex_field_only: bool = False) -> None:
        """SDK option: the Gaussians after the first ``n_vertices`` follow their triangle -- their centres are the
        barycentric combination (``bary [M, 3]`` on ``faces[face_index]``) of the deformed vertex Gaussians -- so a
        Gaussian cannot slide over the surface on its own; rotation and scale deltas still come from the field.

        ``vertex_field_only`` (the mesh-bound model, ``Fit4DConfig.mesh_bound``): the field is evaluated at the
        vertex Gaussians only; a face Gaussian's centre is its triangle's barycentric point, its rotation is the
        triangle's rotation (deformed frame x canonical frame^T) applied to its canonical rotation, and its scale is
        its canonical scale. Only the mesh vertices move, as in the skinned ground truth."""
        f = torch.as_tensor(np.asarray(faces)[np.asarray(face_index)], dtype=torch.long, device=self.means.device)
        b = torch.as_tensor(np.asarray(bary), dtype=self.means.dtype, device=self.means.device)
        if f.shape[0] != self.n - n_vertices or b.shape != (f.shape[0], 3):
            raise ValueError("binding must give one face and 3 weights per non-vertex Gaussian")
        self.bound_vertices = int(n_vertices)
        self.bound_faces = f
        self.bound_bary = b
        self.vertex_field_only = bool(vertex_field_only)
        with torch.no_grad():
            self.bound_frames = triangle_frames(self.means[:n_vertices][f])

    def _bound(self, means: Tensor) -> Tensor:
        """means [F, N, 3] -> the same with the non-vertex centres replaced by their triangles' interpolation"""
        if not self.bound_vertices:
            return means
        vtx = means[:, : self.bound_vertices]
        tri = vtx[:, self.bound_faces]  # [F, M, 3, 3]
        return torch.cat([vtx, torch.einsum("mb,fmbc->fmc", self.bound_bary, tri)], 1)

    @property
    def n(self) -> int:
        return self.means.shape[0]

    def at(self, t: float, extra: Tensor | None = None, deform: bool = True):
        """Deformed Gaussians at normalised time t -> (means, quats, scales, opacities, sh [N, K, 3])"""
        if deform and self.vertex_field_only:
            if extra is not None:
                raise ValueError("extra features are not supported by the mesh-bound model")
            m, q, s, o, sh = self.at_times([t])
            return m[0], q[0], s[0], o, sh[0]
        if deform:
            d = self.field(self.means, t, extra)
            means = self._bound((self.means + d.position)[None])[0]
            quats, log_s = self.quats + d.rotation, self.log_scales + d.log_scale
        else:
            means, quats, log_s = self.means, self.quats, self.log_scales
        sh = sh_at_time(self.sh, t)[0]
        return means, quats, torch.exp(log_s), torch.sigmoid(self.opacity_logits), sh

    def at_times(self, times, deform: bool = True):
        """Batched ``at`` over F times (one field evaluation) -> means/quats/scales [F, N, ...], opacities [N],
        sh [F, N, K, 3]"""
        tt = torch.as_tensor(list(times), dtype=self.means.dtype, device=self.means.device)
        f, n = tt.shape[0], self.n
        if deform and self.vertex_field_only:
            nv = self.bound_vertices
            pts = self.means[None, :nv].expand(f, nv, 3).reshape(-1, 3)
            d = self.field(pts, tt.repeat_interleave(nv))
            vtx = self.means[None, :nv] + d.position.reshape(f, nv, 3)  # [F, V, 3]
            tri = vtx[:, self.bound_faces]  # [F, M, 3, 3]
            means = torch.cat([vtx, torch.einsum("mb,fmbc->fmc", self.bound_bary, tri)], 1)
            rot = rotmat_to_quat(triangle_frames(tri) @ self.bound_frames.transpose(-1, -2)[None])  # [F, M, 4]
            quats = torch.cat([self.quats[None, :nv] + d.rotation.reshape(f, nv, 4),
                               quat_multiply(rot, self.quats[None, nv:].expand(f, -1, 4))], 1)
            scales = torch.exp(torch.cat([self.log_scales[None, :nv] + d.log_scale.reshape(f, nv, 3),
                                          self.log_scales[None, nv:].expand(f, -1, 3)], 1))
        elif deform:
            pts = self.means[None].expand(f, n, 3).reshape(-1, 3)
            d = self.field(pts, tt.repeat_interleave(n))
            means = self._bound(self.means[None] + d.position.reshape(f, n, 3))
            quats = self.quats[None] + d.rotation.reshape(f, n, 4)
            scales = torch.exp(self.log_scales[None] + d.log_scale.reshape(f, n, 3))
        else:
            means = self.means[None].expand(f, n, 3)
            quats = self.quats[None].expand(f, n, 4)
            scales = torch.exp(self.log_scales)[None].expand(f, n, 3)
        return means, quats, scales, torch.sigmoid(self.opacity_logits), sh_at_time(self.sh, tt)

    @torch.no_grad()
    def trajectories(self, count: int, times) -> Tensor:
        """Positions of the first ``count`` Gaussians (the canonical mesh's vertices, by construction of
        ``canonical_from_mesh``) at the given times: mu_i + dx(mu_i, t) with the *learned* canonical means
        -> [T, count, 3]. This is what the model renders, whatever gauge the canonical means drifted into."""
        x = self.means[:count]
        return torch.stack([x + self.field(x, float(t)).position for t in times])

    def canonical_parameters(self):
        return dict(means=self.means, quats=self.quats, log_scales=self.log_scales,
                    opacity_logits=self.opacity_logits, sh=self.sh)

    @torch.no_grad()
    def to_sequence(self, times, fps: float = 30.0, name: str = "gaussians4d") -> GaussianSequence:
        """Bake the model at the given normalised times into a GaussianSequence (per-frame SH when time_basis > 1)."""
        ms, qs, ss, shs = [], [], [], []
        for t in times:
            m, q, s, o, sh = self.at(float(t))
            ms.append(m.cpu().numpy())
            qs.append(torch.nn.functional.normalize(q, dim=-1).cpu().numpy())
            ss.append(s.cpu().numpy())
            shs.append(sh.cpu().numpy())
        op = torch.sigmoid(self.opacity_logits).cpu().numpy()
        sh = np.stack(shs) if self.time_basis > 1 else shs[0]
        return GaussianSequence(np.stack(ms), np.stack(qs), np.stack(ss), op, sh, fps=fps, name=name)

    @staticmethod
    def rgb_to_sh_dc(rgb: Tensor) -> Tensor:
        return (rgb - 0.5) / SH_C0
