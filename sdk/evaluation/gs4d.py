"""4D-GS reconstruction of rendered animated characters (Track4DGen stage 2; "no 4D-SDS, no diffusion features").

Ground truth: the SDK rasteriser (UV textures, 2x supersampling; unlit = base colour, lit = camera-fixed Lambert)
renders each clip under the paper's 4-view protocol (az 0/90/180/270, el 15, 256^2, 16 frames) or 24 dense views.
Scored on held-out views (az 45/135/225/315 at el 15 and 30) at the training times, on held-out in-between times
(training views and held-out views), and by the deformation field's motion at the canonical (frame-0) vertices
against the true vertices (RMSE in % of the clip's bounding-box diagonal; zero motion as the baseline).

    articulate evaluate gs4d --device cuda [--quick]
    python -m sdk.evaluation.gs4d case --asset Fox --clip Run --protocol paper4 --out DIR --device cuda
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

CASES = [  # (folder, file, clip): the shared characters (CC0 / CC-BY; BrainStem is excluded by licence)
    ("CesiumMan", "CesiumMan.glb", None),
    ("Fox", "Fox.glb", "Run"),
    ("RobotExpressive", "RobotExpressive.glb", "Walking"),
    ("Quaternius_Wolf", "Wolf.glb", "Gallop"),
]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over images [..., H, W, 3] (skimage, Gaussian-free 7x7 window, data range 1)."""
    from skimage.metrics import structural_similarity
    a = np.asarray(a, np.float64).reshape((-1,) + a.shape[-3:])
    b = np.asarray(b, np.float64).reshape((-1,) + b.shape[-3:])
    return float(np.mean([structural_similarity(x, y, channel_axis=-1, data_range=1.0) for x, y in zip(a, b)]))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a) >= 0.5, np.asarray(b) >= 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))


@torch.no_grad()
def render_video_like(model, video, device, backend="auto", chunk: int = 32):
    """Render the model at every (view, time) of ``video`` -> (rgb [V, T, H, W, 3], alpha [V, T, H, W])."""
    from ..gs4d.fit import _select, render_model, video_cameras
    cams = video_cameras(video, device)
    v, t = video.n_views, video.n_frames
    pairs = [(i, k) for i in range(v) for k in range(t)]
    rgb = np.zeros(video.frames.shape, np.float32)
    alpha = np.zeros(video.masks.shape, np.float32)
    for s in range(0, len(pairs), chunk):
        pp = pairs[s:s + chunk]
        vi = torch.tensor([p[0] for p in pp], device=device)
        out = render_model(model, _select(cams, vi), [float(video.times[p[1]]) for p in pp], video.background, backend)
        for j, (i, k) in enumerate(pp):
            rgb[i, k] = out.rgb[j].clamp(0, 1).cpu().numpy()
            alpha[i, k] = out.alpha[j].cpu().numpy()
    return rgb, alpha


def image_metrics(model, video, device, backend="auto") -> dict:
    rgb, alpha = render_video_like(model, video, device, backend)
    return dict(psnr=psnr(rgb, video.frames), ssim=ssim(rgb, video.frames), iou=iou(alpha, video.masks))


@torch.no_grad()
def motion_error(model, canonical: np.ndarray, vertices: np.ndarray, times, diag: float,
                 field_at_gt: bool = False, trajectories: np.ndarray | None = None) -> dict:
    """RMSE of the vertex Gaussians' trajectories mu_i + dx(mu_i, t) (or, with ``field_at_gt``, of the field
    queried at the GT canonical vertices, phi(x_i, t)) against the true vertices, in % of ``diag``, with the
    zero-motion baseline. The two agree when the canonical means are frozen (lr_means = 0)."""
    dev = model.means.device
    x = torch.as_tensor(canonical, dtype=torch.float32, device=dev)
    if trajectories is not None:  # e.g. the mesh fitted to all the deformed Gaussians (gs4d.export)
        traj = np.asarray(trajectories)
    else:
        traj = (torch.stack([model.field.query(x, float(t)) for t in times]) if field_at_gt
                else model.trajectories(len(canonical), times)).cpu().numpy()
    errs, zero = [], []
    for k, t in enumerate(times):
        q = traj[k]
        errs.append(np.sqrt(((q - vertices[k]) ** 2).sum(1).mean()))
        zero.append(np.sqrt(((canonical - vertices[k]) ** 2).sum(1).mean()))
    errs, zero = np.asarray(errs), np.asarray(zero)
    per_vertex = np.sqrt(((traj - np.asarray(vertices)) ** 2).sum(-1))  # [T, V]
    p50, p90 = np.percentile(per_vertex, [50, 90]) / diag * 100
    # displacement error: the motion relative to each vertex Gaussian's own first position (blind to a static offset
    # of the canonical centres, e.g. after a pre-fit that moved them)
    dv = np.asarray(vertices) - np.asarray(vertices)[:1]
    derr = np.sqrt((((traj - traj[:1]) - dv) ** 2).sum(-1).mean(-1))
    return dict(rmse_pct=float(100 * errs.mean() / diag), zero_motion_pct=float(100 * zero.mean() / diag),
                rel_to_motion=float(errs.mean() / max(zero.mean(), 1e-12)), median_pct=float(p50),
                p90_pct=float(p90), per_frame_pct=(100 * errs / diag).round(3).tolist(),
                displacement_rmse_pct=float(100 * derr.mean() / diag))


@torch.no_grad()
def oracle_motion_psnr(model, video, vertices: np.ndarray, faces: np.ndarray, device, backend="auto") -> dict:
    """PSNR of the fitted Gaussians (appearance as fitted, 4D SH at each time) carried by the *true* vertex motion
    (vertex Gaussians on their vertices, face Gaussians at fixed barycentric coordinates) against the fit's own
    renders: if the true motion renders better than the fitted field, the optimiser, not the data, is short."""
    from ..gs4d.fit import _select, video_cameras
    from ..gs4d.model import barycentric_embedding
    from ..render.gaussians import render_gaussians
    nv = vertices.shape[1]
    can = model.means.detach().cpu().numpy()
    face, bary = barycentric_embedding(can, vertices[0], faces, nv)
    cams = video_cameras(video, device)
    _, quats, scales, op, _ = model.at_times([0.0], deform=False)
    out = []
    for k in range(video.n_frames):
        vk = np.asarray(vertices[k], np.float64)
        pts = np.concatenate([vk, np.einsum("mb,mbc->mc", bary, vk[np.asarray(faces)[face]])]).astype(np.float32)
        m = torch.as_tensor(pts, device=device)
        sh = model.at_times([float(video.times[k])], deform=False)[4][0]
        v = video.n_views
        r = render_gaussians(m[None].expand(v, -1, -1), quats[0][None].expand(v, -1, -1),
                             scales[0][None].expand(v, -1, -1), op, camera=_select(cams, torch.arange(v, device=device)),
                             sh=sh[None].expand(v, -1, -1, -1), background=video.background, backend=backend)
        out.append(r.rgb.clamp(0, 1).cpu().numpy())
    rgb = np.stack(out, 1)  # [V, T, H, W, 3]
    return dict(psnr=psnr(rgb, video.frames))


def run_case(shared: Path, folder: str, file: str, clip: str | None, protocol: str, out: Path, *, device="cpu",
             lit: bool = False, time_basis: int = 4, n_frames: int = 16, size: int = 256, iterations: int = 1000,
             n_gaussians: int = 30000, backend: str = "auto", supersample: int = 2, quick: bool = False,
             overrides: dict | None = None) -> dict:
    """One reconstruction: render GT, fit, score; writes OUT/result.json and OUT/mesh_sequence.npz."""
    from ..gs4d.fit import Fit4DConfig, canonical_from_mesh, fit_4dgs
    from ..io.gltf import load_gltf
    from ..render.views import render_asset_views
    t0 = time.perf_counter()
    asset = load_gltf(shared / "rigged" / folder / file)
    kw = dict(n_frames=n_frames, size=size, lit=lit, supersample=supersample, device=device)
    train, gt = render_asset_views(asset, clip, protocol=protocol, **kw)
    test, _ = render_asset_views(asset, clip, protocol="test", **kw)
    test_mid, gt_mid = render_asset_views(asset, clip, protocol="test", in_between=True, **kw)
    train_mid, _ = render_asset_views(asset, clip, protocol=protocol, in_between=True, **kw)
    t_render = time.perf_counter() - t0
    ap = asset.appearance
    can = canonical_from_mesh(gt["canonical"], gt["faces"], n_gaussians, vertex_colors=ap.vertex_colors,
                              uvs=ap.uvs if ap.texture is not None else None, texture=ap.texture,
                              textured=ap.textured if ap.texture is not None else None)
    cfg = Fit4DConfig(iterations=iterations, refine_iterations=iterations // 4,
                      progressive_iterations=(3 * iterations) // 4, time_basis=time_basis, backend=backend,
                      **(overrides or {}))
    res = fit_4dgs(train, can, cfg, device=device, canonical_vertices=len(gt["canonical"]), faces=gt["faces"])
    model = res.model
    diag = float(np.linalg.norm(gt["vertices"].reshape(-1, 3).max(0) - gt["vertices"].reshape(-1, 3).min(0)))
    r = dict(asset=folder, clip=train.meta["clip"], protocol=protocol, lit=lit, time_basis=time_basis,
             gaussians=model.n, frames=n_frames, overrides=overrides or {}, size=size, iterations=iterations, fit_seconds=res.seconds,
             render_gt_seconds=t_render, device=str(device))
    r["train"] = image_metrics(model, train, device, backend)
    r["test_views"] = image_metrics(model, test, device, backend)
    if not quick:
        r["test_views_in_between"] = image_metrics(model, test_mid, device, backend)
        r["train_views_in_between"] = image_metrics(model, train_mid, device, backend)
    # the vertex Gaussians' own trajectories (mu_i + dx(mu_i, t)), and the mesh fitted to all the deformed Gaussians
    # through their barycentric embedding (gs4d.export.fitted_mesh_sequence, weighted by how much each one shows)
    r["motion_train_times"] = motion_error(model, gt["canonical"], gt["vertices"], train.times, diag)
    r["motion_in_between"] = motion_error(model, gt["canonical"], gt_mid["vertices"], train_mid.times, diag)
    from ..gs4d.export import fitted_mesh_sequence
    fitted = fitted_mesh_sequence(model, len(gt["canonical"]), gt["faces"], train.times).vertices
    fitted_mid = fitted_mesh_sequence(model, len(gt["canonical"]), gt["faces"], train_mid.times).vertices
    r["motion_fitted_mesh"] = motion_error(model, gt["canonical"], gt["vertices"], train.times, diag,
                                           trajectories=fitted)
    r["motion_fitted_mesh_in_between"] = motion_error(model, gt["canonical"], gt_mid["vertices"], train_mid.times,
                                                      diag, trajectories=fitted_mid)
    try:
        r["oracle_true_motion_train"] = oracle_motion_psnr(model, train, gt["vertices"], gt["faces"], device, backend)
    except Exception as e:  # diagnostic only
        r["oracle_true_motion_train"] = dict(error=str(e))
    r["iterations_done"] = res.iterations_done
    r["motion_field_at_gt_canonical"] = motion_error(model, gt["canonical"], gt["vertices"], train.times, diag,
                                                     field_at_gt=True)
    r["history"] = res.history
    out.mkdir(parents=True, exist_ok=True)
    seq = model.trajectories(len(gt["canonical"]), train.times).cpu().numpy()
    np.savez_compressed(out / "mesh_sequence.npz", vertices=seq, fitted_vertices=fitted, faces=gt["faces"],
                        gt_vertices=gt["vertices"], times=train.times, fps=train.fps)
    torch.save({"state_dict": model.state_dict(), "config": vars(cfg) if hasattr(cfg, "__dict__") else {},
                "canonical_vertices": len(gt["canonical"])}, out / "model.pt")
    (out / "result.json").write_text(json.dumps(r, indent=1))
    return r


def table(results: list[dict]) -> str:
    rows = ["| asset | clip | protocol | light | SH w | train PSNR | test PSNR / SSIM | in-between test PSNR / SSIM | "
            "motion RMSE % diag (zero-motion) | fitted-mesh motion % | fit s |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        tb = r.get("test_views_in_between", {})
        rows.append(f"| {r['asset']} | {r['clip']} | {r['protocol']} | {'lit' if r['lit'] else 'unlit'} | "
                    f"{r['time_basis']} | {r['train']['psnr']:.2f} | {r['test_views']['psnr']:.2f} / "
                    f"{r['test_views']['ssim']:.4f} | "
                    + (f"{tb['psnr']:.2f} / {tb['ssim']:.4f}" if tb else "-")
                    + f" | {r['motion_train_times']['rmse_pct']:.2f} ({r['motion_train_times']['zero_motion_pct']:.2f})"
                    + (f" | {r['motion_fitted_mesh']['rmse_pct']:.2f}" if "motion_fitted_mesh" in r else " | -")
                    + f" | {r['fit_seconds']:.0f} |")
    return "\n".join(rows)


# ----------------------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--protocols", default="paper4,dense24")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--gaussians", type=int, default=30000)
    p.add_argument("--quick", action="store_true", help="CPU-sized smoke run: 2 assets, 4 frames, 48 px, 60 iterations")
    p.add_argument("--out", default="gs4d_eval")


def run(args) -> int:
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    cases = CASES[:2] if args.quick else CASES
    results = []
    for folder, file, clip in cases:
        for protocol in args.protocols.split(","):
            kw = dict(device=args.device, iterations=60 if args.quick else args.iterations,
                      size=48 if args.quick else args.size, n_frames=4 if args.quick else args.frames,
                      n_gaussians=1500 if args.quick else args.gaussians, quick=args.quick)
            results.append(run_case(shared, folder, file, clip, protocol, Path(args.out) / f"{folder}_{protocol}", **kw))
            print(table(results[-1:]).splitlines()[-1], flush=True)
    print(table(results))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sdk.evaluation.gs4d")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("case", help="one reconstruction case")
    c.add_argument("--shared", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    c.add_argument("--asset", required=True, help="folder under rigged/")
    c.add_argument("--clip", default=None)
    c.add_argument("--protocol", default="paper4")
    c.add_argument("--lit", action="store_true")
    c.add_argument("--time-basis", type=int, default=4)
    c.add_argument("--iterations", type=int, default=1000)
    c.add_argument("--size", type=int, default=256)
    c.add_argument("--frames", type=int, default=16)
    c.add_argument("--gaussians", type=int, default=30000)
    c.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    c.add_argument("--out", required=True)
    c.add_argument("--quick", action="store_true", help="skip the in-between-time renders (speed runs)")
    c.add_argument("--preset", choices=("default", "paper", "tracking", "mesh"), default="default",
                   help="paper: sdk.gs4d.PAPER_SCHEDULE; tracking: sdk.gs4d.TRACKING_GUIDED; mesh: sdk.gs4d.fit.MESH_BOUND "
                        "(--set applies after it)")
    c.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a Fit4DConfig field (repeatable), e.g. --set lr_planes=0.0016")
    t = sub.add_parser("table", help="collect result.json files into a markdown table")
    t.add_argument("results", nargs="+")
    a = ap.parse_args(argv)
    if a.cmd == "table":
        rs = [json.loads(Path(p).read_text()) for p in a.results]
        print(table(rs))
        return 0
    files = {f: fl for f, fl, _ in CASES}
    file = files.get(a.asset) or next(p.name for p in (Path(a.shared) / "rigged" / a.asset).glob("*.gl*"))
    from dataclasses import fields
    from ..gs4d.fit import Fit4DConfig
    types = {f.name: f.type for f in fields(Fit4DConfig)}
    from ..gs4d.fit import MESH_BOUND, PAPER_SCHEDULE, TRACKING_GUIDED
    overrides = dict({"default": {}, "paper": PAPER_SCHEDULE, "tracking": TRACKING_GUIDED, "mesh": MESH_BOUND}[a.preset])
    for kv in a.set:
        k, _, v = kv.partition("=")
        if k not in types:
            ap.error(f"unknown Fit4DConfig field {k!r}")
        overrides[k] = (v.lower() in ("1", "true", "yes")) if types[k] in (bool, "bool") else \
            (int(v) if types[k] in (int, "int") else (v if types[k] in (str, "str") else float(v)))
    r = run_case(Path(a.shared), a.asset, file, a.clip, a.protocol, Path(a.out), device=a.device, lit=a.lit,
                 time_basis=a.time_basis, n_frames=a.frames, size=a.size, iterations=a.iterations,
                 n_gaussians=a.gaussians, overrides=overrides, quick=a.quick)
    print(table([r]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
