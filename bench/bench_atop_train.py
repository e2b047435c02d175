"""Train the small ATOP model and run its held-out inference + SDS transfer (issue 15 part 3), in one budgeted run.

    python bench/bench_atop_train.py --data DIR --out OUT [--budget 230] [--device cuda] [--config small|mini]

DIR holds ``bench_atop_data.py``'s train.npz / eval.npz (/ shared.npz). Stages (each bounded by a share of the
wall-clock ``--budget``, seconds):

1. base: the whole ATOPUNet (``ATOPConfig.small()``) on every training video of the 10 categories (our stand-in for
   ImageDream + a generic motion module; ε-loss, Adam ``--base-lr``);
2. personalization (§4.2.5): per category, a copy of the base's motion module trained few-shot on that category's
   objects with seeds < ``--shots`` (only the motion module; ε-loss; Adam 5e-4);
3. held-out figures: ε-loss of base vs personalized on each category's held-out objects (seeds 1000..), and
   50-step CFG-5 samples (Eq. 5) scored by PSNR on the moving part's pixels against the true video, beside the
   static-first-frame baseline;
4. SDS transfer (Eq. 7, ``transfer.py``) of every held-out part with its category's personalized model ("free"
   per-Gaussian motion, ATOP's; "rigid", ours, if time is left), and of the shared objects' parts with the
   base model (zero-shot) -> articulated clouds per frame for the OBB search (run on CPU afterwards by
   ``sdk/evaluation/joints_learned.py``).

Writes OUT/base.safetensors (fp16), OUT/motion_a|b.safetensors (fp16 motion modules per category),
OUT/metrics.json, OUT/clouds.npz (per part and frame the dynamic points [Nf, n, 3]; the static points are the
pack's first n), OUT/samples.npz, progressively (a run stopped early still returns files).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdk.models.atop.dataset import decode_latents, load_dataset  # noqa: E402
from sdk.models.atop.pipeline import make_scheduler, sample  # noqa: E402
from sdk.models.atop.prior import WeightFreeEncoders  # noqa: E402
from sdk.models.atop.train import TrainData, heldout_loss, moving_psnr, train  # noqa: E402
from sdk.models.atop.transfer import TransferConfig, sds_transfer  # noqa: E402
from sdk.models.atop.unet import ATOPConfig, ATOPUNet  # noqa: E402

T0 = time.time()
LOG = []


def log(msg: str) -> None:
    line = f"[{time.time() - T0:6.1f}s] {msg}"
    LOG.append(line)
    print(line, flush=True)


def config(name: str) -> ATOPConfig:
    c = ATOPConfig.small()
    if name == "mini":  # CPU dry run: the same shapes, narrow
        c = dataclasses.replace(c, model_channels=16, norm_groups=4, num_head_channels=8, motion_heads=2,
                                film_hidden=8, context_dim=16, clip_dim=16, resampler_dim_head=8)
    return c


def save_fp16(sd: dict, path: Path) -> None:
    from safetensors.torch import save_file
    save_file({k: v.detach().to(torch.float16).contiguous().cpu() for k, v in sd.items()}, str(path))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--config", default="small", choices=["small", "mini"])
    ap.add_argument("--budget", type=float, default=230.0, help="wall-clock seconds for everything")
    ap.add_argument("--base-frac", type=float, default=0.30)
    ap.add_argument("--pers-frac", type=float, default=0.20)
    ap.add_argument("--base-lr", type=float, default=3e-4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--shots", type=int, default=8, help="few-shot: training objects per category (seeds < N)")
    ap.add_argument("--max-steps", type=int, default=10 ** 9)
    ap.add_argument("--sample-steps", type=int, default=50)
    ap.add_argument("--sds-iters", type=int, default=200)
    ap.add_argument("--n-points", type=int, default=2048, help="static and dynamic SDS points each (paper: 2048)")
    ap.add_argument("--calibrate", type=int, default=0, help="feature calibration iterations on the known rest "
                    "latent before SDS (ours; 0 = ATOP's plain SDS; the H200 run of docs/articulation.md used 0)")
    ap.add_argument("--categories", default=None, help="comma-separated subset (dry runs)")
    ap.add_argument("--eval-limit", type=int, default=0, help="held-out parts per category (0 = all)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        log(f"device {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    cfg = config(a.config)
    enc = WeightFreeEncoders(cfg.context_dim, cfg.clip_dim)
    tr_np, ev_np = load_dataset(Path(a.data) / "train.npz"), load_dataset(Path(a.data) / "eval.npz")
    sh_path = Path(a.data) / "shared.npz"
    sh_np = load_dataset(sh_path) if sh_path.exists() else None
    tr, ev = TrainData.from_dataset(tr_np, enc, dev), TrainData.from_dataset(ev_np, enc, dev)
    cats = list(dict.fromkeys(tr_np["category"].tolist()))
    if a.categories:
        cats = [c for c in cats if c in a.categories.split(",")]
    seeds = np.array([int(str(o).rsplit("_", 1)[1]) for o in tr_np["object"]])
    log(f"data: {len(tr)} training videos, {len(ev)} held-out parts, {0 if sh_np is None else len(sh_np['prompt'])} "
        f"shared parts; {len(cats)} categories")
    sch = make_scheduler()
    model = ATOPUNet(cfg).to(dev)
    metrics = {"config": dataclasses.asdict(cfg), "args": vars(a), "device": str(dev),
               "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
               "params": sum(p.numel() for p in model.parameters()),
               "motion_params": sum(p.numel() for p in model.motion_parameters())}

    def dump():
        metrics["log"] = LOG
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))

    # ---- 1. base
    r = train(model, tr, np.arange(len(tr)), steps=a.max_steps, batch_size=a.batch, lr=a.base_lr, params="all",
              seconds=a.budget * a.base_frac, log=log, log_every=200)
    metrics["base"] = {"steps": r["steps"], "seconds": r["seconds"], "loss_first": r["losses"][:3],
                       "loss_last": float(np.mean(r["losses"][-10:]))}
    log(f"base: {r['steps']} steps, {r['seconds']:.0f}s, loss {metrics['base']['loss_last']:.4f}")
    base_motion = {k: v.clone() for k, v in model.motion_state_dict().items()}
    save_fp16(model.base_state_dict() | base_motion, out / "base.safetensors")
    dump()

    # ---- 2. personalization per category + 3. held-out eps-loss
    per_cat_s = a.budget * a.pers_frac / len(cats)
    motion = {}
    metrics["personalize"] = {}
    for c in cats:
        few = np.flatnonzero((tr_np["category"] == c) & (seeds < a.shots))
        held = np.flatnonzero(ev_np["category"] == c)
        model.load_state_dict(base_motion, strict=False)
        l_base = heldout_loss(model, ev, held, scheduler=sch)
        r = train(model, tr, few, steps=a.max_steps, batch_size=min(a.batch, 4), lr=5e-4, params="motion",
                  seconds=per_cat_s, seed=1)
        l_pers = heldout_loss(model, ev, held, scheduler=sch)
        motion[c] = {k: v.clone() for k, v in model.motion_state_dict().items()}
        metrics["personalize"][c] = {"shots": int(len(few)), "steps": r["steps"], "heldout_eps_base": l_base,
                                     "heldout_eps_personalized": l_pers, "train_loss_last": float(np.mean(r["losses"][-5:]))}
        log(f"personalize {c}: {len(few)} videos, {r['steps']} steps; held-out eps-MSE base {l_base:.4f} -> "
            f"personalized {l_pers:.4f}")
    half = cats[: len(cats) // 2]
    save_fp16({f"{c}/{k}": v for c in half for k, v in motion[c].items()}, out / "motion_a.safetensors")
    save_fp16({f"{c}/{k}": v for c in cats if c not in half for k, v in motion[c].items()}, out / "motion_b.safetensors")
    dump()

    # ---- 3b. 50-step CFG-5 samples of the held-out parts, PSNR on the moving part
    gen = torch.Generator(device=dev).manual_seed(7)
    samples = {}
    metrics["video"] = {}
    for c in cats:
        held = np.flatnonzero(ev_np["category"] == c)
        if a.eval_limit:
            held = held[: a.eval_limit]
        model.load_state_dict(motion[c], strict=False)
        cond = ev.condition(held)
        from sdk.models.atop.train import _autocast
        with _autocast(dev):
            z = sample(model, cond, (len(held), cfg.num_views, cfg.num_frames, cfg.in_channels, cfg.latent_size,
                                     cfg.latent_size), steps=a.sample_steps, guidance=5.0, scheduler=sch,
                       generator=gen, device=dev)
        z = z.float().clamp(-1, 1)
        gt = decode_latents(ev.latents[torch.as_tensor(held, device=dev)].float())
        rows = []
        for j in range(len(held)):
            alpha = gt[j, :, :, 3] > -0.9  # [Nv, Nf, h, w] covered
            diff = (gt[j] - gt[j, :, :1]).abs().amax(2) > 0.1  # pixels that change over the video
            mk = (diff & alpha.any(1, keepdim=True)).any(1)  # [Nv, h, w]
            static = gt[j, :, :1].expand_as(gt[j])
            rows.append({"object": str(ev_np["object"][held[j]]), "part": str(ev_np["part"][held[j]]),
                         "psnr_model": moving_psnr(z[j], gt[j], mk), "psnr_static": moving_psnr(static, gt[j], mk),
                         "psnr_model_all": moving_psnr(z[j], gt[j], torch.ones_like(mk))})
        samples[c] = ((z.cpu().numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
        metrics["video"][c] = rows
        pm = np.nanmean([r["psnr_model"] for r in rows])
        ps = np.nanmean([r["psnr_static"] for r in rows])
        log(f"video {c}: moving-part PSNR model {pm:.2f} dB vs static first frame {ps:.2f} dB")
    np.savez_compressed(out / "samples.npz", **samples)
    dump()

    # ---- 4. SDS transfer of the held-out parts (free, then rigid) and the shared objects (zero-shot, base)
    c2w = ev_np["camera"][0].reshape(-1, 4, 4)
    clouds = {}
    metrics["sds"] = {}
    n = a.n_points

    def pts(data, key, idx):  # the packs' points are random surface samples already: the first n
        return data[key][idx][:, :n]

    left = lambda: a.budget - (time.time() - T0)  # noqa: E731
    for motion_kind in ("free", "rigid"):
        for c in cats:
            held = np.flatnonzero(ev_np["category"] == c)
            if a.eval_limit:
                held = held[: a.eval_limit]
            if left() < 8:
                log(f"budget: SDS {motion_kind} stops before {c}")
                break
            model.load_state_dict(motion[c], strict=False)
            tcfg = TransferConfig(iters=a.sds_iters, motion=motion_kind, latent_size=cfg.latent_size,
                                  calibrate_iters=a.calibrate)
            t1 = time.time()
            rest = ev_np["latents"][held][:, :, 0].astype(np.float32) / 127.5 - 1.0  # the known rest state
            cl, hist = sds_transfer(model, ev.condition(held), pts(ev_np, "static", held), pts(ev_np, "dynamic", held),
                                    c2w, sch, tcfg, static_color=pts(ev_np, "static_color", held),
                                    dynamic_color=pts(ev_np, "dynamic_color", held), device=dev, rest_latent=rest)
            ns = min(n, ev_np["static"].shape[1])
            for j, i in enumerate(held):  # the dynamic part's points per frame (the static ones never move)
                clouds[f"{motion_kind}/{i}"] = cl[j][:, ns:].astype(np.float16)
            metrics["sds"][f"{motion_kind}/{c}"] = {"parts": int(len(held)), "seconds": time.time() - t1,
                                                    "loss_first": hist[:5], "loss_last": hist[-5:]}
            log(f"SDS {motion_kind} {c}: {len(held)} parts, {time.time() - t1:.1f}s")
        np.savez_compressed(out / "clouds.npz", **clouds)
        dump()
        if motion_kind == "free" and sh_np is not None and left() > 20:
            try:
                shared_sds(model, base_motion, sh_np, enc, dev, c2w, sch, a, cfg, clouds, pts, left)
            except Exception as e:  # keep the procedural results whatever happens here
                log(f"shared SDS failed: {type(e).__name__}: {e}")
            np.savez_compressed(out / "clouds.npz", **clouds)
            dump()
    metrics["seconds_total"] = time.time() - T0
    log("done")
    dump()
    return 0


def shared_sds(model, base_motion, sh_np, enc, dev, c2w, sch, a, cfg, clouds, pts, left):
    """Zero-shot: the base model (its generic motion module) on the shared objects' parts, 6 at a time."""
    model.load_state_dict(base_motion, strict=False)
    n = len(sh_np["prompt"])
    sh = TrainData.from_dataset({**sh_np, "latents": np.zeros((n, 1), np.uint8), "category": np.array(["shared"] * n)},
                                enc, dev)
    for s0 in range(0, n, 6):
        if left() < 15:
            log("budget: shared SDS stops early")
            break
        idx = np.arange(s0, min(s0 + 6, n))
        cl, _ = sds_transfer(model, sh.condition(idx), pts(sh_np, "static", idx), pts(sh_np, "dynamic", idx), c2w, sch,
                             TransferConfig(iters=a.sds_iters, latent_size=cfg.latent_size), device=dev)
        ns = min(a.n_points, sh_np["static"].shape[1])
        for j, i in enumerate(idx):
            clouds[f"shared/{i}"] = cl[j][:, ns:].astype(np.float16)
        log(f"SDS shared {s0}..{idx[-1]}")


if __name__ == "__main__":
    raise SystemExit(main())
