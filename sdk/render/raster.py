"""A small z-buffer rasterizer for triangle meshes in plain torch (CPU and CUDA).

Every (triangle, pixel-in-its-bounding-box) pair is tested at once; the nearest hit per pixel wins
through one ``scatter_reduce(amin)`` over a packed (quantized depth, triangle id) key, so there is
no Python loop over triangles. Memory is bounded by processing triangles in chunks whose bounding
box areas sum to at most ``max_candidates`` pixels.

Depth is interpolated perspective-correctly (linear in 1/z). Triangles are two-sided; a triangle
with a vertex behind the near plane is skipped (orbit cameras never need clipping).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .camera import Camera, project

_IDX_BITS = 31
_INF_KEY = torch.iinfo(torch.int64).max


@dataclass
class Fragments:
    """Per-pixel rasterization result for N cameras.

    face_id: Tensor  # [N, H, W] int64, -1 where no triangle covers the pixel
    depth: Tensor    # [N, H, W] float32, +inf on background
    bary: Tensor     # [N, H, W, 3] perspective-correct barycentrics of the winning triangle (0 on background)
    """

    face_id: Tensor
    depth: Tensor
    bary: Tensor

    @property
    def mask(self) -> Tensor:  # [N, H, W] bool
        return self.face_id >= 0


def _as_tensor(x, dtype, device) -> Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    return torch.as_tensor(x).to(device=device, dtype=dtype)


def rasterize(vertices, faces, cameras: Camera, near: float = 1e-3,
              max_candidates: int = 1 << 22) -> Fragments:
    """Rasterize one mesh into every camera.

    vertices: [V, 3] (shared by all cameras) or [N, V, 3] (one pose per camera), numpy or torch
    faces: [F, 3] int
    cameras: N cameras of one image size
    """
    dev = cameras.device
    verts = _as_tensor(vertices, torch.float32, dev)
    fcs = _as_tensor(faces, torch.int64, dev)
    n, h, w = len(cameras), cameras.height, cameras.width
    if fcs.numel() == 0:
        return Fragments(torch.full((n, h, w), -1, dtype=torch.int64, device=dev),
                         torch.full((n, h, w), float("inf"), device=dev), torch.zeros(n, h, w, 3, device=dev))
    uv, z = project(verts, cameras)                      # [N, V, 2], [N, V]
    tri_uv = uv[:, fcs]                                  # [N, F, 3, 2]
    tri_z = z[:, fcs]                                    # [N, F, 3]
    nf = fcs.shape[0]
    tri_uv = tri_uv.reshape(n * nf, 3, 2)
    tri_z = tri_z.reshape(n * nf, 3)
    cam_of = torch.arange(n, device=dev).repeat_interleave(nf)

    # signed doubled area; drop degenerate / behind-camera triangles
    a, b, c = tri_uv[:, 0], tri_uv[:, 1], tri_uv[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    lo = tri_uv.amin(dim=1)
    hi = tri_uv.amax(dim=1)
    x0 = torch.clamp(torch.ceil(lo[:, 0] - 0.5), 0, w).long()
    x1 = torch.clamp(torch.floor(hi[:, 0] - 0.5), -1, w - 1).long()
    y0 = torch.clamp(torch.ceil(lo[:, 1] - 0.5), 0, h).long()
    y1 = torch.clamp(torch.floor(hi[:, 1] - 0.5), -1, h - 1).long()
    bw = (x1 - x0 + 1).clamp_min(0)
    bh = (y1 - y0 + 1).clamp_min(0)
    valid = (area.abs() > 1e-10) & (tri_z.amin(dim=1) > near) & torch.isfinite(area)
    cnt = torch.where(valid, bw * bh, torch.zeros_like(bw))

    zmin = tri_z[valid].min() if bool(valid.any()) else torch.tensor(near, device=dev)
    zmax = tri_z[valid].max() if bool(valid.any()) else torch.tensor(near + 1.0, device=dev)
    zscale = (1 << 30) / (zmax - zmin).clamp_min(1e-6)

    keys = torch.full((n * h * w,), _INF_KEY, dtype=torch.int64, device=dev)
    idx = torch.nonzero(cnt > 0).squeeze(1)
    if idx.numel():
        csum = torch.cumsum(cnt[idx], 0)
        # chunk boundaries so each chunk holds at most max_candidates pixel tests
        bounds = [0]
        total = int(csum[-1])
        start_val = 0
        while start_val < total:
            j = int(torch.searchsorted(csum, torch.tensor(start_val + max_candidates, device=dev), right=True))
            j = max(j, bounds[-1] + 1)
            bounds.append(min(j, idx.numel()))
            start_val = int(csum[bounds[-1] - 1])
        for s, e in zip(bounds[:-1], bounds[1:]):
            t = idx[s:e]
            k = cnt[t]
            tri = torch.repeat_interleave(t, k)
            first = torch.cumsum(k, 0) - k
            local = torch.arange(tri.numel(), device=dev) - torch.repeat_interleave(first, k)
            bwt = torch.repeat_interleave(bw[t], k)
            px = torch.repeat_interleave(x0[t], k) + local % bwt
            py = torch.repeat_interleave(y0[t], k) + local // bwt
            bary, depth = _bary_depth(tri_uv[tri], tri_z[tri], area[tri], px, py)
            inside = (bary >= -1e-6).all(dim=1)
            if not bool(inside.any()):
                continue
            tri, px, py, depth = tri[inside], px[inside], py[inside], depth[inside]
            q = ((depth - zmin) * zscale).clamp(0, (1 << 30) - 1).long()
            key = (q << _IDX_BITS) | tri
            pix = cam_of[tri] * (h * w) + py * w + px
            keys.scatter_reduce_(0, pix, key, reduce="amin")

    hit = keys != _INF_KEY
    tri_win = torch.where(hit, keys & ((1 << _IDX_BITS) - 1), torch.zeros_like(keys))
    pix_all = torch.arange(n * h * w, device=dev)
    px = pix_all % w
    py = (pix_all // w) % h
    bary, depth = _bary_depth(tri_uv[tri_win], tri_z[tri_win], area[tri_win], px, py)
    face_id = torch.where(hit, tri_win % nf, torch.full_like(tri_win, -1))
    depth = torch.where(hit, depth, torch.full_like(depth, float("inf")))
    bary = torch.where(hit[:, None], bary, torch.zeros_like(bary))
    return Fragments(face_id.view(n, h, w), depth.view(n, h, w), bary.view(n, h, w, 3))


def _bary_depth(tuv: Tensor, tz: Tensor, area: Tensor, px: Tensor, py: Tensor):
    """Screen-space barycentrics at pixel centres -> perspective-correct barycentrics and depth.

    tuv: [M, 3, 2], tz: [M, 3], area: [M], px/py: [M] integer pixel coordinates
    """
    p = torch.stack([px.to(tuv.dtype) + 0.5, py.to(tuv.dtype) + 0.5], dim=-1)
    a, b, c = tuv[:, 0], tuv[:, 1], tuv[:, 2]

    def edge(p0, p1, q):
        return (p1[:, 0] - p0[:, 0]) * (q[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (q[:, 0] - p0[:, 0])

    ar = torch.where(area.abs() > 1e-12, area, torch.full_like(area, 1e-12))
    l0 = edge(b, c, p) / ar
    l1 = edge(c, a, p) / ar
    l2 = edge(a, b, p) / ar
    lin = torch.stack([l0, l1, l2], dim=-1)           # screen-space barycentrics (inside test)
    inv = lin / tz.clamp_min(1e-8)
    s = inv.sum(-1)
    depth = 1.0 / s.clamp_min(1e-12)
    pc = inv / s.clamp_min(1e-12)[:, None]
    # return screen-space bary for the inside test sign and perspective-correct values otherwise
    pc = torch.where((lin >= -1e-6).all(-1, keepdim=True), pc, lin)
    return pc, depth


def face_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """Unit face normals. vertices: [..., V, 3], faces: [F, 3] -> [..., F, 3]"""
    v = vertices[..., faces, :]
    n = torch.cross(v[..., 1, :] - v[..., 0, :], v[..., 2, :] - v[..., 0, :], dim=-1)
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)


@dataclass
class RenderResult:
    """rgb: [N, H, W, 3] in [0, 1]; depth: [N, H, W] (+inf background); face_id, labels: [N, H, W] int64 (-1 background);
    mask: [N, H, W] bool; coverage: [N, H, W] float fraction of covered sub-samples (the alpha matte; equals
    ``mask`` without supersampling)"""

    rgb: Tensor
    depth: Tensor
    face_id: Tensor
    labels: Tensor | None
    mask: Tensor
    coverage: Tensor | None = None


def _scaled(cameras: Camera, s: int) -> Camera:
    return Camera(cameras.world_to_cam, cameras.focal * s, cameras.width * s, cameras.height * s,
                  cameras.azimuth, cameras.elevation)


def render_mesh(vertices, faces, cameras: Camera, face_colors=None, vertex_colors=None,
                face_labels=None, background: float = 1.0, ambient: float = 0.35,
                light_dir=(0.4, 0.6, 1.0), uvs=None, texture=None, textured=None,
                supersample: int = 1) -> RenderResult:
    """Render a mesh into N cameras with two-sided Lambert shading from a camera-fixed light.

    vertices: [V, 3] or [N, V, 3] (one pose per camera: animated frames)
    faces: [F, 3] int
    face_colors: [F, 3] in [0, 1] (flat per face), or vertex_colors: [V, 3] (interpolated); default light grey
    uvs: [V, 2] + texture: [H, W, 3] -- base colour = vertex colour (default white) x bilinear texture sample
    (perspective-correct UVs, glTF convention); textured: [V] bool limits the texture to those vertices' faces
    face_labels: [F] int, written to ``labels`` per pixel (part ids, -1 background)
    ambient: 1.0 renders unlit (pure base colour); supersample: s renders at s x s samples per pixel and
    box-filters rgb (anti-aliasing) and coverage; depth is the mean over covered samples, ids/labels come
    from the sample nearest the pixel centre.
    """
    s = int(supersample)
    if s < 1:
        from ..errors import InvalidInputError
        raise InvalidInputError(f"supersample must be >= 1, got {supersample}", field="supersample")
    if s > 1:
        hi = render_mesh(vertices, faces, _scaled(cameras, s), face_colors, vertex_colors, face_labels, background,
                         ambient, light_dir, uvs, texture, textured, 1)
        n, hh, ww = hi.mask.shape
        h, w = hh // s, ww // s

        def pool(x):  # [N, hh, ww, C] -> [N, h, w, C]
            return x.reshape(n, h, s, w, s, -1).mean(dim=(2, 4))

        cov = pool(hi.mask[..., None].float())[..., 0]
        dsum = pool(torch.where(hi.mask, hi.depth, torch.zeros_like(hi.depth))[..., None])[..., 0]
        depth = torch.where(cov > 0, dsum / cov.clamp_min(1e-12), torch.full_like(cov, float("inf")))
        c = s // 2
        pick = lambda x: x[:, c::s, c::s]  # noqa: E731
        labels = pick(hi.labels) if hi.labels is not None else None
        return RenderResult(pool(hi.rgb), depth, pick(hi.face_id), labels, cov >= 0.5, cov)
    dev = cameras.device
    verts = _as_tensor(vertices, torch.float32, dev)
    fcs = _as_tensor(faces, torch.int64, dev)
    frag = rasterize(verts, fcs, cameras)
    n, h, w = frag.face_id.shape
    hit = frag.mask
    fid = frag.face_id.clamp_min(0)
    if vertex_colors is not None:
        vc = _as_tensor(vertex_colors, torch.float32, dev)
        col = (vc[fcs][fid] * frag.bary[..., None]).sum(-2)              # [N, H, W, 3]
    elif face_colors is not None:
        col = _as_tensor(face_colors, torch.float32, dev)[fid]
    else:
        col = torch.full((n, h, w, 3), 1.0 if texture is not None else 0.75, device=dev)
    if texture is not None:
        if uvs is None:
            from ..errors import InvalidInputError
            raise InvalidInputError("a texture needs per-vertex uvs", field="uvs")
        uv = _as_tensor(uvs, torch.float32, dev)
        puv = (uv[fcs][fid] * frag.bary[..., None]).sum(-2)              # [N, H, W, 2]
        tex = _as_tensor(texture, torch.float32, dev)
        tcol = sample_texture(tex, puv)[..., :3]
        if textured is not None:
            tv = _as_tensor(textured, torch.bool, dev)
            tface = tv[fcs].all(1)[fid]                                  # [N, H, W]
            tcol = torch.where(tface[..., None], tcol, torch.ones_like(tcol))
        col = col * tcol
    vb = verts if verts.ndim == 3 else verts[None].expand(n, -1, -1)
    nrm = face_normals(vb, fcs)                                          # [N, F, 3] world
    rot = cameras.world_to_cam[:, :3, :3]
    nrm_cam = nrm @ rot.transpose(1, 2)
    ld = torch.tensor(light_dir, dtype=torch.float32, device=dev)
    ld = ld / ld.norm()
    lam = (nrm_cam @ ld).abs()                                           # [N, F]
    shade = ambient + (1 - ambient) * torch.gather(lam, 1, fid.view(n, -1)).view(n, h, w)
    rgb = torch.where(hit[..., None], (col * shade[..., None]).clamp(0, 1),
                      torch.full_like(col, background))
    labels = None
    if face_labels is not None:
        fl = _as_tensor(face_labels, torch.int64, dev)
        labels = torch.where(hit, fl[fid], torch.full_like(fid, -1))
    return RenderResult(rgb, frag.depth, frag.face_id, labels, hit, hit.float())


def sample_texture(texture: Tensor, uv: Tensor) -> Tensor:
    """Bilinear texture lookup with repeat wrapping, glTF convention (uv (0, 0) = the image's top-left corner,
    v grows downwards; texel centres at +0.5).

    texture: [H, W, C] float, uv: [..., 2] -> [..., C]
    """
    h, w = texture.shape[:2]
    x = uv[..., 0] * w - 0.5
    y = uv[..., 1] * h - 0.5
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = x0.long(), y0.long()
    xa, xb = x0 % w, (x0 + 1) % w
    ya, yb = y0 % h, (y0 + 1) % h
    t = texture
    return ((1 - fy) * ((1 - fx) * t[ya, xa] + fx * t[ya, xb]) + fy * ((1 - fx) * t[yb, xa] + fx * t[yb, xb]))


def sample_texture_np(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """numpy wrapper of :func:`sample_texture` (texture [H, W, C] in [0, 1] or uint8) -> [..., C] float64."""
    tex = np.asarray(texture)
    tex = tex.astype(np.float64) / 255.0 if tex.dtype == np.uint8 else tex.astype(np.float64)
    return sample_texture(torch.from_numpy(tex), torch.from_numpy(np.asarray(uv, dtype=np.float64))).numpy()
