"""3D Gaussian splatting: a differentiable pure-torch reference splatter and a gsplat (CUDA) backend.

Functional API, batched over cameras, differentiable in torch::

    from sdk.render import orbit_cameras, render_gaussians
    cams = orbit_cameras([0, 1.57], 0.26, width=256)
    rgb, alpha, depth = render_gaussians(means, quats, scales, opacities, colors, cams)
    # rgb [C, H, W, 3], alpha [C, H, W], depth [C, H, W] (expected depth, 0 where alpha is 0)

Conventions (the same as ``sdk.core.gaussians``): quaternions (w, x, y, z), linear scales (standard deviations),
opacities in [0, 1], SH coefficients ``[N, K, 3]`` with colour = max(SH(d) + 0.5, 0) for the viewing direction
d = mean - camera centre, as in 3DGS and gsplat. The SDK camera is OpenGL (looks down -Z, +Y up);
:func:`gsplat_cameras` converts it to gsplat's OpenCV ``viewmats`` (+Z forward, +Y down) and ``Ks``.

Deformed Gaussians are a first-class path: pass ``covars`` ``[N, 3, 3]`` (or ``[C, N, 3, 3]``) instead of
quats/scales, e.g. from :func:`lbs_gaussians` (mu' = phi(mu), Sigma' = A Sigma A^T).

``means`` may be ``[N, 3]`` (one scene for all cameras) or ``[C, N, 3]`` (camera c renders its own pose,
e.g. frame t of an animation); colours/opacities/covars follow the same rule.

The reference (``backend="torch"``) reproduces gsplat's classic rasterizer pixel for pixel: EWA projection with
the Jacobian clamped to 1.3x the field of view, a 0.3 px^2 low-pass on the 2D covariance, alpha =
min(0.999, o exp(-sigma)) kept when >= 1/255, front-to-back compositing in depth order stopping when
transmittance would fall to 1e-4. It is tile-free: every (Gaussian, pixel) pair in the Gaussian's
opacity-aware bounding box is enumerated, in row bands whose pair count stays under ``max_pairs``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..core.gaussians import SH_C0, GaussianCloud
from ..errors import InvalidInputError, MissingDependencyError
from .camera import Camera

ALPHA_THRESHOLD = 1.0 / 255.0  # gsplat's ALPHA_THRESHOLD
T_THRESHOLD = 1e-4  # gsplat stops compositing when transmittance would reach this
BACKENDS = ("auto", "torch", "gsplat")

# real spherical-harmonic constants (3DGS / gsplat basis, degree <= 3)
_C1 = 0.4886025119029199
_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658,
       1.445305721320277, -0.5900435899266435)


class SplatResult(NamedTuple):
    rgb: Tensor  # [C, H, W, 3]
    alpha: Tensor  # [C, H, W]
    depth: Tensor  # [C, H, W] expected depth along the viewing axis (0 where alpha == 0)


# --------------------------------------------------------------------------------------------- small kernels
def quat_to_rotmat(quats: Tensor) -> Tensor:
    """quats: [..., 4] (w, x, y, z), normalised here -> [..., 3, 3]"""
    q = quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], dim=-1).reshape(q.shape[:-1] + (3, 3))


def covariance_from_quat_scale(quats: Tensor, scales: Tensor) -> Tensor:
    """Sigma = R S S^T R^T.  quats: [..., 4] wxyz, scales: [..., 3] -> [..., 3, 3]"""
    m = quat_to_rotmat(quats) * scales[..., None, :]
    return m @ m.transpose(-1, -2)


def lbs_gaussians(means: Tensor, covars: Tensor, weights: Tensor, transforms: Tensor) -> tuple[Tensor, Tensor]:
    """Linear-blend-skinned Gaussians: mu' = A mu + b, Sigma' = A Sigma A^T with (A, b) = sum_j w_j T_j.

    means: [N, 3], covars: [N, 3, 3], weights: [N, J] (rows sum to 1), transforms: [..., J, 4, 4] skinning
    matrices (world bind -> world posed). Returns means [..., N, 3], covars [..., N, 3, 3].
    """
    blend = torch.einsum("nj,...jab->...nab", weights, transforms)  # [..., N, 4, 4]
    a = blend[..., :3, :3]
    mu = (a @ means[..., None])[..., 0] + blend[..., :3, 3]
    return mu, a @ covars @ a.transpose(-1, -2)


def eval_sh(sh: Tensor, dirs: Tensor, degree: int | None = None) -> Tensor:
    """Real SH colour in the 3DGS basis (no +0.5 offset).  sh: [..., K, 3], dirs: [..., 3] -> [..., 3]"""
    k = sh.shape[-2]
    deg = int(round(math.sqrt(k))) - 1 if degree is None else degree
    if (deg + 1) ** 2 > k or deg > 3:
        raise InvalidInputError(f"SH degree {deg} needs {(deg + 1) ** 2} <= {k} coefficients and degree <= 3",
                                field="sh")
    return (sh_basis(dirs, deg)[..., None] * sh[..., : (deg + 1) ** 2, :]).sum(-2)


def sh_basis(dirs: Tensor, degree: int) -> Tensor:
    """dirs: [..., 3] (normalised here) -> [..., (degree + 1) ** 2] real SH basis values."""
    d = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x, y, z = d.unbind(-1)
    out = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        out += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree >= 2:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        out += [_C2[0] * xy, _C2[1] * yz, _C2[2] * (2 * zz - xx - yy), _C2[3] * xz, _C2[4] * (xx - yy)]
    if degree >= 3:
        out += [_C3[0] * y * (3 * xx - yy), _C3[1] * xy * z, _C3[2] * y * (4 * zz - xx - yy),
                _C3[3] * z * (2 * zz - 3 * xx - 3 * yy), _C3[4] * x * (4 * zz - xx - yy),
                _C3[5] * z * (xx - yy), _C3[6] * x * (xx - 3 * yy)]
    return torch.stack(out, dim=-1)


def gsplat_cameras(camera: Camera) -> tuple[Tensor, Tensor]:
    """SDK (OpenGL, looks down -Z) cameras -> gsplat/OpenCV ``viewmats`` [C, 4, 4] and ``Ks`` [C, 3, 3].

    OpenCV camera axes are (x, -y, -z) of the OpenGL ones, so viewmat = diag(1, -1, -1, 1) @ world_to_cam;
    the principal point is the image centre and fx = fy = focal, matching ``sdk.render.camera.project``.
    """
    w2c = camera.world_to_cam.to(torch.float32)
    flip = torch.tensor([1.0, -1.0, -1.0, 1.0], device=w2c.device)
    viewmats = flip[None, :, None] * w2c
    c = len(camera)
    ks = torch.zeros(c, 3, 3, device=w2c.device)
    f = camera.focal.to(device=w2c.device, dtype=torch.float32)
    ks[:, 0, 0] = f
    ks[:, 1, 1] = f
    ks[:, 0, 2] = camera.width / 2
    ks[:, 1, 2] = camera.height / 2
    ks[:, 2, 2] = 1.0
    return viewmats, ks


def camera_centres(camera: Camera) -> Tensor:
    """[C, 3] camera positions in world space."""
    w2c = camera.world_to_cam.to(torch.float32)
    r, t = w2c[:, :3, :3], w2c[:, :3, 3]
    return -(r.transpose(1, 2) @ t[..., None])[..., 0]


def gsplat_available() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        import gsplat  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------------- projection
def project_gaussians(means: Tensor, covars: Tensor, viewmats: Tensor, ks: Tensor, width: int, height: int,
                      eps2d: float = 0.3, near: float = 0.01, far: float = 1e10):
    """EWA projection of world Gaussians into OpenCV cameras (gsplat's ``fully_fused_projection``, classic).

    means: [C, N, 3], covars: [C, N, 3, 3], viewmats: [C, 4, 4], ks: [C, 3, 3]
    returns means2d [C, N, 2], conics [C, N, 3] (a, b, c of the inverse 2D covariance), depths [C, N],
    cov2d [C, N, 2, 2] (with the low-pass), valid [C, N] bool
    """
    r = viewmats[:, None, :3, :3]
    mc = (r @ means[..., None])[..., 0] + viewmats[:, None, :3, 3]
    cc = r @ covars @ r.transpose(-1, -2)
    tx, ty, tz = mc.unbind(-1)
    fx, fy = ks[:, 0, 0, None], ks[:, 1, 1, None]
    cx, cy = ks[:, 0, 2, None], ks[:, 1, 2, None]
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    lim_xp, lim_xn = (width - cx) / fx + 0.3 * tan_x, cx / fx + 0.3 * tan_x
    lim_yp, lim_yn = (height - cy) / fy + 0.3 * tan_y, cy / fy + 0.3 * tan_y
    zs = torch.where(tz.abs() > 1e-12, tz, torch.full_like(tz, 1e-12))
    jx = zs * torch.minimum(torch.maximum(tx / zs, -lim_xn), lim_xp)
    jy = zs * torch.minimum(torch.maximum(ty / zs, -lim_yn), lim_yp)
    zero = torch.zeros_like(tz)
    jac = torch.stack([fx / zs, zero, -fx * jx / zs ** 2, zero, fy / zs, -fy * jy / zs ** 2], -1)
    jac = jac.reshape(tz.shape + (2, 3))
    cov2d = jac @ cc @ jac.transpose(-1, -2)
    cov2d = cov2d + eps2d * torch.eye(2, dtype=cov2d.dtype, device=cov2d.device)
    det = cov2d[..., 0, 0] * cov2d[..., 1, 1] - cov2d[..., 0, 1] * cov2d[..., 1, 0]
    valid = (det > 0) & (tz > near) & (tz < far)
    det_s = det.clamp_min(1e-10)
    conics = torch.stack([cov2d[..., 1, 1] / det_s, -(cov2d[..., 0, 1] + cov2d[..., 1, 0]) / 2 / det_s,
                          cov2d[..., 0, 0] / det_s], dim=-1)
    means2d = torch.stack([fx * tx / zs + cx, fy * ty / zs + cy], dim=-1)
    return means2d, conics, tz, cov2d, valid


# --------------------------------------------------------------------------------------------- reference
def _rasterize_reference(means2d: Tensor, conics: Tensor, depths: Tensor, cov2d: Tensor, valid: Tensor,
                         opacities: Tensor, colors: Tensor, width: int, height: int,
                         max_pairs: int) -> tuple[Tensor, Tensor, Tensor]:
    """One camera. means2d [N, 2], conics [N, 3], depths [N], cov2d [N, 2, 2], valid [N], opacities [N],
    colors [N, D] -> (colour [H, W, D], alpha [H, W], weighted depth [H, W]) before the background."""
    dev = means2d.device
    d = colors.shape[-1]
    out_c = torch.zeros(height * width, d, device=dev, dtype=colors.dtype)
    out_a = torch.zeros(height * width, device=dev, dtype=colors.dtype)
    out_z = torch.zeros(height * width, device=dev, dtype=colors.dtype)
    with torch.no_grad():
        op = opacities.detach()
        keep = valid & (op >= ALPHA_THRESHOLD)
        extend = torch.sqrt(2.0 * torch.log(op.clamp_min(ALPHA_THRESHOLD) / ALPHA_THRESHOLD)).clamp(max=3.33)
        rx = torch.ceil(extend * cov2d[:, 0, 0].detach().clamp_min(0).sqrt())
        ry = torch.ceil(extend * cov2d[:, 1, 1].detach().clamp_min(0).sqrt())
        m2 = means2d.detach()
        x0 = torch.ceil(m2[:, 0] - rx - 0.5).clamp(0, width)
        x1 = torch.floor(m2[:, 0] + rx - 0.5).clamp(-1, width - 1)
        y0 = torch.ceil(m2[:, 1] - ry - 0.5).clamp(0, height)
        y1 = torch.floor(m2[:, 1] + ry - 0.5).clamp(-1, height - 1)
        keep &= torch.isfinite(m2).all(-1) & (x1 >= x0) & (y1 >= y0)
        ids = torch.nonzero(keep).squeeze(1)
        if ids.numel() == 0:
            return out_c.view(height, width, d), out_a.view(height, width), out_z.view(height, width)
        x0, x1, y0, y1 = x0[ids].long(), x1[ids].long(), y0[ids].long(), y1[ids].long()
        rank = torch.empty_like(depths, dtype=torch.long)
        rank[torch.argsort(depths.detach(), stable=True)] = torch.arange(depths.numel(), device=dev)
        bw = x1 - x0 + 1
        total = int((bw * (y1 - y0 + 1)).sum())
        n_bands = max(1, min(height, -(-total // max_pairs)))
        edges = np.linspace(0, height, n_bands + 1).round().astype(int)
    n = depths.numel()
    for b0, b1 in zip(edges[:-1], edges[1:]):
        if b1 <= b0:
            continue
        with torch.no_grad():
            yy0, yy1 = y0.clamp_min(int(b0)), y1.clamp_max(int(b1) - 1)
            inb = yy1 >= yy0
            if not bool(inb.any()):
                continue
            g, gx0, gbw, gy0 = ids[inb], x0[inb], bw[inb], yy0[inb]
            cnt = gbw * (yy1[inb] - gy0 + 1)
            gi = torch.repeat_interleave(torch.arange(g.numel(), device=dev), cnt)
            first = torch.cumsum(cnt, 0) - cnt
            local = torch.arange(gi.numel(), device=dev) - first[gi]
            px = gx0[gi] + local % gbw[gi]
            py = gy0[gi] + local // gbw[gi]
            gid = g[gi]
        with torch.no_grad():  # first pass without autograd: which pairs contribute, in compositing order
            m2d, cn_d = means2d.detach(), conics.detach()
            dx = px.to(m2d.dtype) + 0.5 - m2d[gid, 0]
            dy = py.to(m2d.dtype) + 0.5 - m2d[gid, 1]
            cn = cn_d[gid]
            sigma = 0.5 * (cn[:, 0] * dx * dx + cn[:, 2] * dy * dy) + cn[:, 1] * dx * dy
            alpha = torch.clamp_max(op[gid] * torch.exp(-sigma), 0.999)
            ok = (sigma >= 0) & (alpha >= ALPHA_THRESHOLD)
            pix = py * width + px
            key = pix[ok] * n + rank[gid[ok]]
            order = torch.argsort(key)
            sel = torch.nonzero(ok).squeeze(1)[order]
            if sel.numel() == 0:
                continue
            pix_s, gid_s = pix[sel], gid[sel]
            pxs, pys = px[sel], py[sel]
            newseg = torch.ones_like(pix_s, dtype=torch.bool)
            newseg[1:] = pix_s[1:] != pix_s[:-1]
            seg = torch.cumsum(newseg.long(), 0) - 1
            seg_start = torch.nonzero(newseg).squeeze(1)
        # second pass, differentiable, on the contributing pairs only
        mg = means2d[gid_s]
        dx = pxs.to(means2d.dtype) + 0.5 - mg[:, 0]
        dy = pys.to(means2d.dtype) + 0.5 - mg[:, 1]
        cn = conics[gid_s]
        sigma = 0.5 * (cn[:, 0] * dx * dx + cn[:, 2] * dy * dy) + cn[:, 1] * dx * dy
        a = torch.clamp_max(opacities[gid_s] * torch.exp(-sigma), 0.999)
        la = torch.log1p(-a.to(torch.float64))
        cs_ex = torch.cumsum(la, 0) - la
        t_ex = torch.exp(cs_ex - cs_ex[seg_start][seg]).to(a.dtype)
        with torch.no_grad():
            inc = (t_ex * (1 - a)) > T_THRESHOLD
        w = torch.where(inc, a * t_ex, torch.zeros_like(a))
        out_c = out_c.index_add(0, pix_s, w[:, None] * colors[gid_s])
        out_a = out_a.index_add(0, pix_s, w)
        out_z = out_z.index_add(0, pix_s, w * depths[gid_s])
    return out_c.view(height, width, d), out_a.view(height, width), out_z.view(height, width)


def _render_torch(means, covars, opacities, colors, viewmats, ks, width, height, bg, near, far, eps2d, max_pairs):
    means2d, conics, depths, cov2d, valid = project_gaussians(means, covars, viewmats, ks, width, height,
                                                              eps2d, near, far)
    rgbs, alphas, deps = [], [], []
    for c in range(viewmats.shape[0]):
        col, a, z = _rasterize_reference(means2d[c], conics[c], depths[c], cov2d[c], valid[c], opacities[c],
                                         colors[c], width, height, max_pairs)
        rgbs.append(col + (1 - a)[..., None] * bg[c])
        alphas.append(a)
        deps.append(z / a.clamp_min(1e-10))
    return SplatResult(torch.stack(rgbs), torch.stack(alphas), torch.stack(deps))


def _render_gsplat(means, quats, scales, covars, opacities, colors, viewmats, ks, width, height, bg, near, far,
                   eps2d, per_camera: bool):
    try:
        from gsplat import rasterization
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise MissingDependencyError("gsplat", "CUDA Gaussian rendering",
                                     "pip install gsplat (JIT-builds; set TORCH_CUDA_ARCH_LIST)") from e
    c = viewmats.shape[0]
    if per_camera:  # camera c renders its own Gaussians: batch dim C, one camera each
        cont = lambda x: None if x is None else x.contiguous()  # noqa: E731
        kw = dict(means=cont(means), opacities=cont(opacities), colors=cont(colors[:, None]),
                  viewmats=viewmats[:, None].contiguous(), Ks=ks[:, None].contiguous())
        kw.update(dict(quats=None, scales=None, covars=cont(covars)) if covars is not None else
                  dict(quats=cont(quats), scales=cont(scales)))
    else:
        kw = dict(means=means[0], opacities=opacities[0], colors=colors, viewmats=viewmats, Ks=ks)
        kw.update(dict(quats=None, scales=None, covars=covars[0]) if covars is not None else
                  dict(quats=quats[0], scales=scales[0]))
    if kw["quats"] is None:
        n = kw["means"].shape[-2]
        kw["quats"] = torch.zeros(kw["means"].shape[:-2] + (n, 4), device=means.device)
        kw["scales"] = torch.zeros(kw["means"].shape[:-2] + (n, 3), device=means.device)
    img, alpha, _ = rasterization(width=width, height=height, near_plane=near, far_plane=far, eps2d=eps2d,
                                  render_mode="RGB+ED", rasterize_mode="classic", **kw)
    img = img.reshape(c, height, width, -1)
    alpha = alpha.reshape(c, height, width)
    # the background is composited here: gsplat 1.5.3's packed path asserts a background shape without batch dims
    rgb = img[..., :-1] + (1 - alpha)[..., None] * bg[:, None, None, :]
    return SplatResult(rgb, alpha, img[..., -1])


# --------------------------------------------------------------------------------------------- public entry
def render_gaussians(means: Tensor, quats: Tensor | None = None, scales: Tensor | None = None,
                     opacities: Tensor | None = None, colors: Tensor | None = None, camera: Camera | None = None, *,
                     covars: Tensor | None = None, sh: Tensor | None = None, width: int | None = None,
                     height: int | None = None, background=0.0, backend: str = "auto", near: float = 0.01,
                     far: float = 1e10, eps2d: float = 0.3, max_pairs: int = 1 << 22) -> SplatResult:
    """Splat 3D Gaussians into every camera.

    means: [N, 3] or [C, N, 3]
    quats: [N, 4] or [C, N, 4] wxyz, scales: [N, 3] or [C, N, 3]  -- or covars: [N, 3, 3] or [C, N, 3, 3]
    opacities: [N] or [C, N] in [0, 1]
    colors: [N, 3] or [C, N, 3] post-activation RGB -- or sh: [N, K, 3] or [C, N, K, 3] (evaluated here in torch)
    camera: ``sdk.render.Camera`` with C cameras (OpenGL convention); width/height default to the camera's
    background: float, [3] or [C, 3]
    backend: "torch" (reference, CPU/CUDA), "gsplat" (CUDA), "auto" (gsplat when installed and on CUDA)
    returns SplatResult(rgb [C, H, W, 3], alpha [C, H, W], depth [C, H, W])
    """
    if camera is None or not isinstance(camera, Camera):
        raise InvalidInputError("render_gaussians needs an sdk.render.Camera", field="camera")
    if backend not in BACKENDS:
        raise InvalidInputError(f"unknown backend {backend!r}; choose one of {BACKENDS}", field="backend")
    width = int(camera.width if width is None else width)
    height = int(camera.height if height is None else height)
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"image size {width}x{height} must be positive", field="width")
    if not bool(torch.isfinite(camera.world_to_cam).all()) or not bool(torch.isfinite(camera.focal).all()):
        bad = int(torch.nonzero(~torch.isfinite(camera.world_to_cam).reshape(len(camera), -1).all(1)
                                | ~torch.isfinite(camera.focal))[0, 0])
        raise InvalidInputError(f"camera {bad} has a non-finite pose or focal length", field=f"camera[{bad}]")
    c = len(camera)
    dev = means.device
    dt = means.dtype
    per_camera = means.ndim == 3 or any(x is not None and x.ndim == nd for x, nd in
                                        ((opacities, 2), (quats, 3), (scales, 3), (covars, 4)))
    if means.shape[-1] != 3 or means.ndim not in (2, 3) or (means.ndim == 3 and means.shape[0] != c):
        raise InvalidInputError(f"means must be [N, 3] or [{c}, N, 3], got {tuple(means.shape)}", field="means")
    n = means.shape[-2]

    def per_cam(x: Tensor | None, tail: tuple, name: str) -> Tensor | None:
        if x is None:
            return None
        x = torch.as_tensor(x, device=dev)
        if tuple(x.shape) == (n,) + tail:
            return x[None].expand((c, n) + tail)
        if tuple(x.shape) == (c, n) + tail:
            return x
        raise InvalidInputError(f"{name} must be {(n,) + tail} or {(c, n) + tail}, got {tuple(x.shape)}",
                                field=name)

    if covars is None:
        if quats is None or scales is None:
            raise InvalidInputError("give quats and scales, or covars", field="covars")
        quats_c = per_cam(quats, (4,), "quats")
        scales_c = per_cam(scales, (3,), "scales")
        covars_c = None
    else:
        covars_c = per_cam(covars, (3, 3), "covars")
        quats_c = scales_c = None
    if opacities is None:
        raise InvalidInputError("opacities are required", field="opacities")
    op_c = per_cam(opacities, (), "opacities")
    means_c = means if means.ndim == 3 else means[None].expand(c, n, 3)
    cam = camera.to(dev)
    if sh is not None:
        if sh.ndim not in (3, 4) or sh.shape[-1] != 3:
            raise InvalidInputError(f"sh must be [N, K, 3] or [C, N, K, 3], got {tuple(sh.shape)}", field="sh")
        sh_c = per_cam(sh, tuple(sh.shape[-2:]), "sh")
        dirs = means_c - camera_centres(cam).to(dt)[:, None]
        colors_c = torch.clamp_min(eval_sh(sh_c, dirs) + 0.5, 0.0)
    elif colors is not None:
        colors_c = per_cam(colors, (colors.shape[-1],), "colors")
    else:
        raise InvalidInputError("give colors or sh", field="colors")
    bg = torch.as_tensor(background, dtype=dt, device=dev)
    bg = bg.reshape(-1).expand(3) if bg.numel() in (1, 3) and bg.ndim <= 1 else bg
    bg = bg.expand(c, colors_c.shape[-1]) if bg.ndim == 1 else bg
    if tuple(bg.shape) != (c, colors_c.shape[-1]):
        raise InvalidInputError(f"background must be a float, [3] or [{c}, 3]", field="background")
    viewmats, ks = gsplat_cameras(cam)
    viewmats, ks = viewmats.to(dt), ks.to(dt)
    use_gsplat = backend == "gsplat" or (backend == "auto" and dev.type == "cuda" and gsplat_available())
    if use_gsplat:
        if dev.type != "cuda":
            raise InvalidInputError("backend='gsplat' needs CUDA tensors", field="backend")
        return _render_gsplat(means_c, quats_c, scales_c, covars_c, op_c, colors_c, viewmats, ks, width, height,
                              bg, near, far, eps2d, per_camera)
    if covars_c is None:
        covars_c = covariance_from_quat_scale(quats_c, scales_c)
    return _render_torch(means_c, covars_c, op_c, colors_c, viewmats, ks, width, height, bg, near, far, eps2d,
                         max_pairs)


def render_cloud(cloud: GaussianCloud, camera: Camera, background=0.0, backend: str = "auto",
                 device="cpu") -> SplatResult:
    """Render a ``GaussianCloud`` (numpy) into ``camera``."""
    t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    return render_gaussians(t(cloud.means), t(cloud.quats), t(cloud.scales), t(cloud.opacities),
                            camera=camera.to(device), sh=t(cloud.sh), background=background, backend=backend)


# --------------------------------------------------------------------------------------------- from a mesh
def gaussians_from_mesh(vertices, faces, vertex_colors=None, face_colors=None, uvs=None, texture=None,
                        textured=None, per_face: int = 1, scale_factor: float = 0.25, flatness: float = 0.2,
                        opacity: float = 0.95, name: str = "gaussians") -> GaussianCloud:
    """Canonical Gaussians on a triangle mesh: one per vertex plus ``per_face`` per triangle (barycentric).

    vertices: [V, 3], faces: [F, 3]; colour from ``vertex_colors`` [V, 3] (barycentric), ``face_colors`` [F, 3],
    and/or ``uvs`` [V, 2] + ``texture`` [H, W, 3] in [0, 1] (bilinear, glTF orientation; multiplied with the base
    colour; ``textured`` [V] bool limits it to those vertices); default light grey. Vertex Gaussians are isotropic with sigma = ``scale_factor`` x the mean incident edge
    length; face Gaussians lie in the triangle's plane (sigma = ``scale_factor`` x the mean edge length / sqrt(per_face),
    and ``flatness`` x that along the normal). ``per_face`` points are placed on a deterministic barycentric
    lattice-free sequence (R2 low-discrepancy, folded into the triangle). scale_factor/flatness/opacity are
    SDK defaults, not the paper's (it states none).
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise InvalidInputError(f"vertices must be [V, 3], got {v.shape}", field="vertices")
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise InvalidInputError(f"faces must be [F, 3], got {f.shape}", field="faces")
    if not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v).all(1))[0])
        raise InvalidInputError(f"vertex {i} is not finite", field=f"vertices[{i}]")
    if f.min() < 0 or f.max() >= len(v):
        raise InvalidInputError(f"face index out of range [0, {len(v)})", field="faces")
    e = np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0)
    el = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)
    vlen = np.full(len(v), np.inf)
    np.minimum.at(vlen, e.ravel(), np.repeat(el, 2))
    vlen = np.where(np.isfinite(vlen), vlen, float(np.median(el)))
    # per-face barycentric samples (R2 sequence, folded into the simplex)
    k = max(0, int(per_face))
    g = 1.32471795724474602596
    i = np.arange(1, k + 1)
    r1, r2 = (0.5 + i / g) % 1.0, (0.5 + i / g ** 2) % 1.0
    fold = r1 + r2 > 1
    r1, r2 = np.where(fold, 1 - r1, r1), np.where(fold, 1 - r2, r2)
    bary = np.stack([1 - r1 - r2, r1, r2], axis=1) if k else np.zeros((0, 3))  # [k, 3]
    if k == 1:
        bary = np.full((1, 3), 1.0 / 3.0)
    tri = v[f]  # [F, 3, 3]
    fpts = np.einsum("kb,fbc->fkc", bary, tri).reshape(-1, 3)
    # face Gaussians: the covariance of the uniform distribution on the triangle, sum_i (v_i - m)(v_i - m)^T / 12,
    # shared among its k samples (/ k), so long thin triangles give long thin Gaussians
    cen = tri - tri.mean(1, keepdims=True)
    cov = np.einsum("fbi,fbj->fij", cen, cen) / 12.0 / max(k, 1)
    evals, evecs = np.linalg.eigh(cov)  # ascending: evecs[..., 0] is the normal direction
    evecs[np.linalg.det(evecs) < 0, :, 0] *= -1  # right-handed frames
    tang = np.sqrt(np.clip(evals[:, 1:], 1e-24, None)) * (scale_factor / 0.25)
    tang = np.maximum(tang, 1e-3 * max(float(np.median(el)), 1e-9))
    s_f = np.stack([flatness * tang[:, 0], tang[:, 0], tang[:, 1]], axis=1)
    from ..core.transforms import matrix_to_quat
    fq = matrix_to_quat(evecs).astype(np.float32)
    means = np.concatenate([v, fpts]).astype(np.float32)
    quats = np.concatenate([np.tile([[1.0, 0.0, 0.0, 0.0]], (len(v), 1)), np.repeat(fq, k, axis=0)])
    s_v = np.repeat((scale_factor * vlen)[:, None], 3, axis=1)
    scales = np.concatenate([s_v, np.repeat(s_f, k, axis=0)])

    col = None
    if vertex_colors is not None:
        vc = np.asarray(vertex_colors, dtype=np.float64).reshape(len(v), -1)[:, :3]
        col = np.concatenate([vc, np.einsum("kb,fbc->fkc", bary, vc[f]).reshape(-1, 3)])
    elif face_colors is not None:
        fc = np.asarray(face_colors, dtype=np.float64).reshape(len(f), -1)[:, :3]
        vcol = np.zeros((len(v), 3))
        np.add.at(vcol, f.ravel(), np.repeat(fc, 3, axis=0))
        vcol /= np.maximum(np.bincount(f.ravel(), minlength=len(v)), 1)[:, None]
        col = np.concatenate([vcol, np.repeat(fc, k, axis=0)])
    if uvs is not None and texture is not None:  # base colour x texture, where textured (default: everywhere)
        from .raster import sample_texture_np
        uv = np.asarray(uvs, dtype=np.float64).reshape(len(v), 2)
        fuv = np.einsum("kb,fbc->fkc", bary, uv[f]).reshape(-1, 2)
        tcol = sample_texture_np(np.asarray(texture), np.concatenate([uv, fuv]))[:, :3]
        if textured is not None:
            tv = np.asarray(textured, dtype=bool).reshape(len(v))
            tmask = np.concatenate([tv, np.repeat(tv[f].all(1), k)])
            tcol = np.where(tmask[:, None], tcol, 1.0)
        col = tcol if col is None else col * tcol
    if col is None:
        col = np.full((len(means), 3), 0.75)
    col = np.clip(col, 0.0, 1.0)
    op = np.full(len(means), float(opacity), dtype=np.float32)
    return GaussianCloud(means, quats.astype(np.float32), scales.astype(np.float32), op,
                         col.astype(np.float32), name=name)
