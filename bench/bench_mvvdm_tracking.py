"""Track4DGen stage 1 on toy data: does fine-tuning a tiny MV video UNet with the tracking losses (Eqs. 4-5) make
its features track better, without hurting denoising?

Honest scale: a *tiny* ``MVVDMUNet`` (the Animate3D layout: MVDream 3-D attention + MV2V adapter + AnimateDiff
motion modules with Animate3D's spatial branch + camera embedding) trained from scratch on 32x32 RGB renders whose
"latent" is a 2x space-to-depth of the pixels (16x16x12: a fixed invertible stand-in for the SD VAE, no text) on **procedural** articulated objects (``sdk.procedural``) rendered into the paper's 4 views
(azimuth 0/90/180/270, elevation 15) with exact GT tracks (``sdk.tracking.gt_tracks``: 15x15 query grid inside the
mask, visibility from the rasteriser). CPU only, ``OMP_NUM_THREADS=1``.

Protocol: one shared pre-training run (all weights, L_diff only), then two fine-tunes from it with the same seed,
data order, timesteps and noise, training only the MV2V adapter + motion modules (the paper's trainable set):
(a) L_diff only, (b) L1 = 1.0 L_diff + 0.1 L_corr + 10 L_pos (8 tracks per view per step, features from
``up_blocks[1].motion_modules[-1]``). Held-out clips (objects never seen in training) are scored on:

* the hooked features are 8x8 for the 16x16 latent (one cell = 4 px), as the paper's up_blocks[1] is 8x8 at 256^2;
* track accuracy of the features: queries on frame 0, tracks = soft-argmax of the cosine map of the hooked features
  (t = ``t_probe``, "slight noise" as in the paper's probe) in every frame; TAP-Vid delta_avg over GT-visible points
  with coordinates scaled to 256x256 (TAP-Vid's convention: thresholds 1-16 px at 256 = 0.125-2 px here), plus
  delta at the native 32 px thresholds {1, 2, 4};
* denoising loss: epsilon MSE on frames 2..F at fixed timesteps and fixed noise;
* temporal warping error: the model's one-step x0 estimate at t = 200 and 500, mean |x0_{j+1}(p_{j+1}) - x0_j(p_j)|
  (RGB in [0, 1]) over GT track pairs visible in both frames (track-sampled, not dense flow); the same quantity on
  the clean GT frames is the floor.

Run: ``PYTHONPATH=$PWD OMP_NUM_THREADS=1 python bench/bench_mvvdm_tracking.py`` (--quick for a smoke run).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdk.models.mvvdm.tracking import TrackingLossConfig, attach_feature_hook, noised_inputs, per_view_features  # noqa
from sdk.models.mvvdm.tracking import track4dgen_loss  # noqa: E402
from sdk.models.mvvdm.unet import DDPMSchedule, MVVDMConfig, MVVDMUNet  # noqa: E402
from sdk.procedural import random_object  # noqa: E402
from sdk.render.camera import orbit_cameras  # noqa: E402
from sdk.render.raster import render_mesh  # noqa: E402
from sdk.render.views import normalise_clip  # noqa: E402
from sdk.tracking import feature_tracks, gt_tracks, sample_features, tapvid_metrics  # noqa: E402

SIZE = 32


def make_clip(seed: int, n_frames: int, cameras, yaw_max: float = 3.0) -> dict:
    """One procedural articulated object, animated (joint sinusoids + a yaw turn), rendered into the cameras."""
    rng = np.random.default_rng(seed)
    obj = random_object(seed)
    mesh = obj.mesh()
    q = obj.animate(n_frames, seed=seed, amplitude=1.0)
    verts = obj.pose_vertices(q, mesh)                                            # [F, V, 3]
    yaw = np.linspace(0, rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * yaw_max, n_frames)  # a turn, radians
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.stack([np.stack([c, 0 * c, s], -1), np.stack([0 * c, 1 + 0 * c, 0 * c], -1),
                    np.stack([-s, 0 * c, c], -1)], 1)                             # [F, 3, 3]
    verts = np.einsum("fij,fvj->fvi", rot, verts)
    verts, _, _ = normalise_clip(verts, 1.0)
    colors = np.clip(mesh.face_colors * rng.uniform(0.55, 1.3, (len(mesh.faces), 1)), 0, 1)  # per-face texture
    rgb = np.zeros((len(cameras), n_frames, SIZE, SIZE, 3), np.float32)
    mask = np.zeros((len(cameras), n_frames, SIZE, SIZE), np.float32)
    for k in range(n_frames):
        r = render_mesh(verts[k], mesh.faces, cameras, face_colors=colors, ambient=0.6, background=0.5,
                        supersample=2)
        rgb[:, k], mask[:, k] = r.rgb.numpy(), r.coverage.numpy()
    tracks, vis, _ = gt_tracks(verts, mesh.faces, cameras)
    qmax = max(len(t[0]) for t in tracks)
    tr = np.zeros((len(cameras), n_frames, qmax, 2), np.float32)
    vs = np.zeros((len(cameras), n_frames, qmax), bool)                          # padding: never visible
    for i, (t, v) in enumerate(zip(tracks, vis)):
        tr[i, :, :t.shape[1]], vs[i, :, :t.shape[1]] = t, v
    img = torch.from_numpy(rgb).permute(0, 1, 4, 2, 3) * 2 - 1                   # [N, F, 3, 32, 32]
    return {"z0": to_latent(img), "mask": mask,
            "tracks": torch.from_numpy(tr), "visible": torch.from_numpy(vs), "category": obj.category}


def to_latent(img: torch.Tensor) -> torch.Tensor:   # [..., 3, 32, 32] -> [..., 12, 16, 16]
    return F.pixel_unshuffle(img.reshape(-1, *img.shape[-3:]), 2).reshape(*img.shape[:-3], 12, SIZE // 2, SIZE // 2)


def to_image(z: torch.Tensor) -> torch.Tensor:     # inverse
    return F.pixel_shuffle(z.reshape(-1, *z.shape[-3:]), 2).reshape(*z.shape[:-3], 3, SIZE, SIZE)


def cameras_c2w(cameras) -> torch.Tensor:
    return torch.linalg.inv(cameras.world_to_cam)                                 # [N, 4, 4]


def train(model, clips, steps, lr, cfg_loss, cam, ctx, seed, params=None, log_every=30, tag=""):
    opt = torch.optim.AdamW(params if params is not None else model.parameters(), lr=lr, weight_decay=0.01)
    sched = DDPMSchedule()
    hook = attach_feature_hook(model, cfg_loss) if (cfg_loss.lambda_corr or cfg_loss.lambda_pos) else None
    hist = []
    model.train()
    t0 = time.time()
    for step in range(steps):
        g = torch.Generator().manual_seed(seed * 100003 + step)
        c = clips[int(torch.randint(0, len(clips), (1,), generator=g))]
        out = track4dgen_loss(model, sched, c["z0"][None], ctx, cam[None], c["tracks"][None], c["visible"][None],
                              (SIZE, SIZE), cfg_loss, hook=hook, generator=g)
        opt.zero_grad(set_to_none=True)
        out["total"].backward()
        torch.nn.utils.clip_grad_norm_([p for grp in opt.param_groups for p in grp["params"]], 1.0)
        opt.step()
        hist.append({k: float(v.detach()) for k, v in out.items()})
        if log_every and (step + 1) % log_every == 0:
            last = hist[-log_every:]
            print(f"  [{tag}] step {step + 1}/{steps}  " + "  ".join(
                f"{k} {np.mean([h[k] for h in last]):.4f}" for k in ("diff", "corr", "pos")) +
                f"  ({time.time() - t0:.0f} s)", flush=True)
    if hook is not None:
        hook.remove()
    model.eval()
    return hist, time.time() - t0


@torch.no_grad()
def evaluate(model, clips, cam, ctx, t_probe=100, t_warps=(200, 500), eval_ts=(100, 300, 500, 700, 900), tau=0.01):
    sched = DDPMSchedule()
    lcfg = TrackingLossConfig()
    hook = attach_feature_hook(model, lcfg)
    res = {"denoise_mse": [], "delta_avg_256": [], "delta_native": {1: [], 2: [], 4: []}, "warp_err_gt": [],
           **{f"warp_err_t{t}": [] for t in t_warps}}
    for ci, c in enumerate(clips):
        z0 = c["z0"][None]
        n, f = z0.shape[1:3]
        g = torch.Generator().manual_seed(7777 + ci)
        noise, cond = torch.randn(z0.shape, generator=g), torch.randn(z0.shape, generator=g)
        for t in eval_ts:
            tt = torch.tensor([t])
            eps = model(noised_inputs(sched, z0, tt, noise, cond, lcfg.cond_noise_max), tt, ctx, cam[None])
            res["denoise_mse"].append(float(F.mse_loss(eps[:, :, 1:], noise[:, :, 1:])))
        # features at slight noise -> soft-argmax tracks of the frame-0 queries
        tt = torch.tensor([t_probe])
        model(noised_inputs(sched, z0, tt, noise, cond, lcfg.cond_noise_max), tt, ctx, cam[None])
        feats = per_view_features(hook.output, 1, n, f)
        for v in range(n):
            keep = c["visible"][v, 0]
            gt, gv = c["tracks"][v][:, keep], c["visible"][v][:, keep]
            pred = feature_tracks(feats[v:v + 1], gt[None, 0], SIZE, SIZE, tau)[0]
            m = tapvid_metrics(pred.numpy() * 256 / SIZE, np.ones(gv.shape, bool), gt.numpy() * 256 / SIZE,
                               gv.numpy())
            res["delta_avg_256"].append(m["delta_avg"])
            mn = tapvid_metrics(pred.numpy(), np.ones(gv.shape, bool), gt.numpy(), gv.numpy(), thresholds=(1, 2, 4))
            for th in (1, 2, 4):
                res["delta_native"][th].append(mn[f"delta_{th}"])
        # one-step x0 estimates at t_warps, colour constancy along GT tracks
        videos = [("warp_err_gt", to_image(z0[0]))]
        for t_warp in t_warps:
            tt = torch.tensor([t_warp])
            zt = noised_inputs(sched, z0, tt, noise, cond, lcfg.cond_noise_max)
            x0 = sched.x0_from_eps(zt, model(zt, tt, ctx, cam[None]), tt).clamp(-1, 1)
            videos.append((f"warp_err_t{t_warp}", to_image(x0[0])))
        for name, video in videos:
            errs = []
            for v in range(n):
                tr, vis = c["tracks"][v], c["visible"][v]
                cols = sample_features(((video[v] + 1) / 2), tr, SIZE, SIZE)                # [F, Q, 3]
                both = (vis[1:] & vis[:-1]).float()
                errs.append(float(((cols[1:] - cols[:-1]).abs().mean(-1) * both).sum() / both.sum().clamp_min(1)))
            res[name].append(float(np.mean(errs)))
    hook.remove()
    out = {"denoise_mse": float(np.mean(res["denoise_mse"])),
           "track_delta_avg_256": float(np.mean(res["delta_avg_256"])),
           "track_delta_avg_256_std_over_views": float(np.std(res["delta_avg_256"])),
           "warp_err_gt_floor": float(np.mean(res["warp_err_gt"])),
           **{k: float(np.mean(v)) for k, v in res.items() if k.startswith("warp_err_t")}}
    for th, vals in res["delta_native"].items():
        out[f"track_delta_{th}px_native"] = float(np.mean(vals))
    return out


def zero_motion_baseline(clips) -> dict:
    """The trivial tracker (every point stays at its query) and how far the GT points move."""
    d256, nat, disp = [], {1: [], 2: [], 4: []}, []
    for c in clips:
        for v in range(c["tracks"].shape[0]):
            keep = c["visible"][v, 0]
            gt, gv = c["tracks"][v][:, keep].numpy(), c["visible"][v][:, keep].numpy()
            still = np.repeat(gt[:1], len(gt), 0)
            d256.append(tapvid_metrics(still * 256 / SIZE, np.ones(gv.shape, bool), gt * 256 / SIZE, gv)["delta_avg"])
            m = tapvid_metrics(still, np.ones(gv.shape, bool), gt, gv, thresholds=(1, 2, 4))
            for th in (1, 2, 4):
                nat[th].append(m[f"delta_{th}"])
            disp.append(float(np.linalg.norm(gt[1:] - gt[:1], axis=-1)[gv[1:]].mean()))
    out = {"zero_motion_track_delta_avg_256": float(np.mean(d256)),
           "mean_gt_displacement_from_query_px_native": float(np.mean(disp))}
    out.update({f"zero_motion_track_delta_{th}px_native": float(np.mean(v)) for th, v in nat.items()})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-clips", type=int, default=16)
    ap.add_argument("--test-clips", type=int, default=6)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--finetune-steps", type=int, default=120)
    ap.add_argument("--pretrain-lr", type=float, default=5e-4)
    ap.add_argument("--finetune-lr", type=float, default=2e-4)   # the paper's 1e-6 is for a pretrained 1.5 B model
    ap.add_argument("--seeds", type=int, default=2, help="fine-tune seeds (data order / noise)")
    ap.add_argument("--yaw", type=float, default=3.0, help="largest whole-object turn over a clip (radians)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-o", "--out", default=str(ROOT / "bench" / "results" / "mvvdm_tracking.json"))
    a = ap.parse_args(argv)
    if a.quick:
        a.train_clips, a.test_clips, a.pretrain_steps, a.finetune_steps = 3, 2, 6, 4
    torch.manual_seed(0)
    torch.set_num_threads(1)
    t_all = time.time()
    cams = orbit_cameras(np.radians([0.0, 90.0, 180.0, 270.0]), np.radians([15.0] * 4), radius=2.2, fov_deg=40.0,
                         width=SIZE)
    t0 = time.time()
    train_clips = [make_clip(s, a.frames, cams, a.yaw) for s in range(a.train_clips)]
    test_clips = [make_clip(10_000 + s, a.frames, cams, a.yaw) for s in range(a.test_clips)]
    print("held-out motion:", json.dumps(zero_motion_baseline(test_clips)), flush=True)
    t_data = time.time() - t0
    print(f"data: {len(train_clips)} train / {len(test_clips)} held-out clips in {t_data:.1f} s", flush=True)
    # CPU-sized: 3 levels (16x16, 8x8, 4x4); the multi-view 3-D attention and Animate3D's spatial motion branch only
    # at 8x8 (level 1, where the tracking features are) -- full-res 1024-token attentions would cost ~5x the time
    cfg = MVVDMConfig.tiny(in_channels=12, out_channels=12, block_out_channels=(16, 32, 32), num_attention_heads=2,
                           motion_num_attention_heads=2, n_views=4, n_frames=a.frames, latent_size=SIZE // 2,
                           down_block_types=("DownBlockMotion", "CrossAttnDownBlockMotion", "DownBlockMotion"),
                           up_block_types=("UpBlockMotion", "CrossAttnUpBlockMotion", "UpBlockMotion"),
                           spatial_motion_levels=(1,))
    cam = cameras_c2w(cams)
    ctx = torch.zeros(1, 1, cfg.cross_attention_dim)                              # no text
    model = MVVDMUNet(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.trainable_parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters ({n_train / 1e6:.2f} M in MV2V + motion modules)", flush=True)
    base_cfg = TrackingLossConfig(lambda_corr=0.0, lambda_pos=0.0)
    _, t_pre = train(model, train_clips, a.pretrain_steps, a.pretrain_lr, base_cfg, cam, ctx, seed=1, tag="pretrain")
    pre_eval = evaluate(model, test_clips, cam, ctx)
    print("pretrained:", json.dumps(pre_eval), flush=True)
    runs = {}
    for seed in range(a.seeds):
        for name, lcfg in (("diffusion_only", base_cfg), ("with_tracking_losses", TrackingLossConfig())):
            m = copy.deepcopy(model)
            hist, dt = train(m, train_clips, a.finetune_steps, a.finetune_lr, lcfg, cam, ctx, seed=100 + seed,
                             params=m.trainable_parameters(), tag=f"{name} s{seed}")
            ev = evaluate(m, test_clips, cam, ctx)
            ev["train_time_s"] = dt
            ev["final_train_losses"] = {k: float(np.mean([h[k] for h in hist[-30:]])) for k in ("diff", "corr", "pos")}
            runs.setdefault(name, []).append(ev)
            print(f"{name} seed {seed}:", json.dumps(ev), flush=True)
    summary = {}
    for name, evs in runs.items():
        summary[name] = {k: {"mean": float(np.mean([e[k] for e in evs])), "std": float(np.std([e[k] for e in evs]))}
                         for k in evs[0] if isinstance(evs[0][k], float)}
    result = {
        "what": "Track4DGen stage 1 tracking losses on a tiny MV-VDM, pixel space 32x32, procedural objects, CPU",
        "config": {**vars(a), "model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
                   "params": n_params, "trainable_params_finetune": n_train,
                   "lambdas": [1.0, 0.1, 10.0], "points_per_view": 8, "query_grid": 15,
                   "feature_module": "up_blocks.1.motion_modules.1 (8x8 features; 16x16 latent = 2x space-to-depth of 32x32)",
                   "tau": 0.01, "huber_delta_cells": 1.0, "t_probe": 100, "t_warps": [200, 500]},
        "data": {"train_categories": sorted({c["category"] for c in train_clips}),
                 "test_categories": sorted({c["category"] for c in test_clips}),
                 "mean_gt_queries_per_view": float(np.mean([c["visible"][:, 0].sum(-1).float().mean()
                                                             for c in test_clips])),
                 **zero_motion_baseline(test_clips)},
        "pretrained": pre_eval, "runs": runs, "summary": summary,
        "timing_s": {"data": t_data, "pretrain": t_pre, "total": time.time() - t_all},
        "machine": "CPU, OMP_NUM_THREADS=1, shared 2-core machine under load from other sessions",
    }
    out = Path(a.out)
    if not a.quick:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        print(f"wrote {out}")
    print(json.dumps(result["summary"], indent=1))
    print(f"total {time.time() - t_all:.0f} s")
    return result


if __name__ == "__main__":
    main()
