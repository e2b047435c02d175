"""GPU benchmarks of the Gaussian renderer (run on a CUDA machine with gsplat installed).

    python bench/bench_gaussians_gpu.py --out results.json

* parity: reference splatter vs gsplat (max |diff| of rgb / alpha / depth, 2k Gaussians, 4 cameras, 128x96);
* LBS-deformed 100k Gaussians at 512^2: deformation (mu' = A mu + b, Sigma' = A Sigma A^T, 20 bones, 4 influences)
  + gsplat render per frame (CUDA events, mean of 100 frames after 10 warm-ups), static gsplat alone, and a
  16-frame batch in one call;
* the torch reference at the same size (one frame) for the reference/gsplat ratio.
"""
from __future__ import annotations

import argparse
import json
import math

import torch

from sdk.render import orbit_cameras
from sdk.render.gaussians import covariance_from_quat_scale, lbs_gaussians, render_gaussians


def _timed(fn, n=100, warm=10):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(n):
        fn()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) / n


def scene(n, seed=0, dev="cuda"):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * 0.3
    quats = torch.randn(n, 4, generator=g)
    scales = torch.rand(n, 3, generator=g) * 0.01 + 0.002
    op = torch.rand(n, generator=g) * 0.9 + 0.05
    col = torch.rand(n, 3, generator=g)
    return [t.to(dev) for t in (means, quats, scales, op, col)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench_gaussians.json")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=512)
    a = ap.parse_args()
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    import gsplat
    res["gsplat"] = gsplat.__version__

    # parity
    means, quats, scales, op, col = scene(2000, 1)
    scales = scales * 4
    cams = orbit_cameras([0.0, 1.3, 2.9, 4.4], [0.26, 0.26, -0.4, 0.9], radius=1.8, width=128, height=96).to("cuda")
    r = render_gaussians(means, quats, scales, op, col, cams, backend="torch", background=0.5)
    g = render_gaussians(means, quats, scales, op, col, cams, backend="gsplat", background=0.5)
    m = r.alpha > 0.5
    res["parity"] = dict(rgb=float((r.rgb - g.rgb).abs().max()), alpha=float((r.alpha - g.alpha).abs().max()),
                         depth_rel=float(((r.depth - g.depth).abs()[m]).max() / r.depth[m].max()))

    # LBS-deformed render at 512^2
    n, size, j = a.n, a.size, 20
    means, quats, scales, op, col = scene(n, 2)
    cov = covariance_from_quat_scale(quats, scales)
    w = torch.rand(n, j, device="cuda")
    top = torch.topk(w, 4, dim=1)
    wk = torch.zeros_like(w).scatter_(1, top.indices, top.values)
    wk = wk / wk.sum(1, keepdim=True)
    cam = orbit_cameras([0.4], 0.26, radius=2.0, width=size).to("cuda")
    frames = []
    for f in range(16):
        tf = torch.eye(4, device="cuda").repeat(j, 1, 1)
        ang = 0.05 * f * torch.arange(j, device="cuda") / j
        tf[:, 0, 0], tf[:, 0, 2], tf[:, 2, 0], tf[:, 2, 2] = ang.cos(), ang.sin(), -ang.sin(), ang.cos()
        frames.append(tf)
    tfs = torch.stack(frames)  # [16, J, 4, 4]
    k = [0]

    def deform_render():
        mu, cv = lbs_gaussians(means, cov, wk, tfs[k[0] % 16])
        k[0] += 1
        return render_gaussians(mu, covars=cv, opacities=op, colors=col, camera=cam, backend="gsplat")

    def static_render():
        return render_gaussians(means, quats, scales, op, col, cam, backend="gsplat")

    def deform_only():
        return lbs_gaussians(means, cov, wk, tfs[3])

    with torch.no_grad():
        res["lbs_render_ms_per_frame"] = _timed(deform_render)
        res["static_render_ms_per_frame"] = _timed(static_render)
        res["lbs_deform_only_ms"] = _timed(deform_only)
        cam16 = orbit_cameras([0.4] * 16, 0.26, radius=2.0, width=size).to("cuda")

        def batch16():
            mu, cv = lbs_gaussians(means, cov, wk, tfs)  # [16, N, 3], [16, N, 3, 3]
            return render_gaussians(mu, covars=cv, opacities=op, colors=col, camera=cam16, backend="gsplat")

        res["lbs_render_16_frames_one_call_ms_per_frame"] = _timed(batch16, n=20, warm=3) / 16
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        render_gaussians(means, quats, scales, op, col, cam, backend="torch")
        e.record()
        torch.cuda.synchronize()
        res["torch_reference_ms_per_frame"] = s.elapsed_time(e)
    res["reference_over_gsplat"] = res["torch_reference_ms_per_frame"] / res["static_render_ms_per_frame"]
    res["gaussians"], res["size"] = n, size
    print(json.dumps(res, indent=1))
    with open(a.out, "w") as fh:
        json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
