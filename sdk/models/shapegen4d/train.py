"""Train the tiny ShapeGen4D on procedural animated shapes (``shapes4d``) and measure the paper's effects.

Stages (each on a wall-clock or step budget so the run fits one GPU slot):

1. VAE (VecSet, tiny config): encoder input = 2048 surface points + normals of one frame; queries = FPS of that frame
   (Step1X-3D) or the temporally aligned queries carried from frame 0 (§3.1), half each; loss = MSE on the TSDF at
   uniform + near-surface points + ``kl_weight`` KL. Held-out: volume IoU at 128^3 in [-1, 1]^3 (sign of the decoded
   TSDF vs the exact SDF), with both kinds of queries.
2. Fig. 3c: latent jitter between neighbouring frames = mean over frames and latents of
   ||mu_i^t - mu_j(i)^{t+1}|| / RMS(||mu||), j(i) the latent whose query is closest to query i; aligned vs per-frame FPS.
3. DiT: latents of the training sequences (aligned queries, VAE mean, scaled to unit std). Base stage: per-frame DiT
   (no ST layers) + the from-scratch silhouette/depth encoder, rectified flow. ST stage (§3.2; base frozen, encoder
   frozen): variants ``joint`` (paper) / ``temporal`` (Table 3's 1-D temporal attention) x shared / independent noise,
   ``seeds`` seeds each, the same number of steps each.
4. Held-out generation: Euler sampling (``sample_steps``, §5.2 shift), decode on a 64^3 grid: IoU per frame vs the exact
   SDF, and temporal jitter = mean |s_{t+1} - 2 s_t + s_{t-1}| of the decoded TSDF over the grid (the GT's own value is
   reported next to it), for each variant and for the base per-frame model with independent / shared noise.

    python -m sdk.models.shapegen4d.train --out OUT               # GPU preset "small" (about 6 minutes on one H200)
    python -m sdk.models.shapegen4d.train --preset tiny --out OUT # CPU smoke run
    python -m sdk.models.shapegen4d.train --eval-jitter bundled --out OUT --device cpu   # Fig. 3c vs frame count

Writes ``OUT/metrics.json`` and the checkpoint ``OUT/shapegen4d-tiny/`` (layout in ``tiny.py``).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from . import shapes4d as S
from .sampler import noise_like, rf_loss, rf_sample
from .tiny import TinyConfig, TinyShapeGen4D, save_tiny, tiny_dit_config
from .vae import farthest_point_sampling


@dataclass
class TrainConfig:
    data: S.ShapeDataConfig = field(default_factory=S.ShapeDataConfig)
    num_train: int = 4096  # training sequences (seeds 0..)
    num_eval: int = 24  # held-out sequences (seeds from 10_000_000)
    surface_points: int = 2048  # encoder input per frame (the paper: 32k)
    sup_points: int = 2048  # TSDF supervision points per frame (half uniform, half near the surface)
    near_sigma: float = 0.02
    vae_batch: int = 64
    vae_lr: float = 1e-3
    vae_seconds: float = 200.0
    kl_weight: float = 1e-4  # ours (Step1X-3D: 1e-3)
    aligned_fraction: float = 0.5  # share of VAE steps with aligned (carried) queries
    dit_batch: int = 128  # frames per base step
    dit_lr: float = 3e-4
    dit_seconds: float = 50.0
    st_batch: int = 32  # sequences per ST step
    st_lr: float = 3e-4
    st_seconds: float = 8.0  # budget of the first variant; the others run its step count
    depth_dropout: float = 0.5
    seeds: int = 3
    iou_res: int = 128
    gen_res: int = 64
    eval_frames: tuple = (0, 7)
    variants: tuple = (("joint", True), ("temporal", True), ("joint", False))


PRESETS = {
    "small": TrainConfig(),
    "tiny": TrainConfig(num_train=32, num_eval=2, surface_points=256, sup_points=256, vae_batch=4, vae_seconds=6,
                        dit_batch=8, dit_seconds=4, st_batch=2, st_seconds=2, seeds=1, iou_res=32, gen_res=24,
                        variants=(("joint", True), ("temporal", True))),
}


def _gen(seed, device):
    return torch.Generator(device=device).manual_seed(seed)


def make_sequences(seeds, dc: S.ShapeDataConfig) -> tuple[torch.Tensor, list]:
    seqs, fams = zip(*(S.random_sequence(int(s), dc) for s in seeds))
    return torch.from_numpy(np.stack(seqs)), list(fams)


def tsdf_target(prims, x, delta):
    return (S.sdf(prims, x) / delta).clamp(-1, 1)


def fps_queries(prims, m, gen, dense=4096):
    pts = S.surface_points(prims, dense, gen)
    idx = farthest_point_sampling(pts[..., :3], m)
    return torch.gather(pts, 1, idx[..., None].expand(-1, -1, 6))


# ------------------------------------------------------------------------------------------------ VAE
def train_vae(model: TinyShapeGen4D, seqs, tc: TrainConfig, device, log) -> dict:
    vae, cfg = model.vae, model.cfg
    opt = torch.optim.AdamW(vae.parameters(), lr=tc.vae_lr, weight_decay=0.0)
    g = _gen(1, device)
    T = seqs.shape[1]
    t0, step, hist = time.time(), 0, []
    while time.time() - t0 < tc.vae_seconds:
        frac = (time.time() - t0) / tc.vae_seconds
        for pg in opt.param_groups:
            pg["lr"] = tc.vae_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        idx = torch.randint(0, len(seqs), (tc.vae_batch,), generator=g, device=device)
        seq = seqs[idx]
        t = torch.randint(0, T, (tc.vae_batch,), generator=g, device=device)
        prims = seq[torch.arange(len(idx), device=device), t]
        surf = S.surface_points(prims, tc.surface_points, g)
        if torch.rand((), generator=g, device=device) < tc.aligned_fraction:
            q = S.aligned_queries(seq, cfg.vae.num_latents, g)[torch.arange(len(idx), device=device), t]
        else:
            q = fps_queries(prims, cfg.vae.num_latents, g)
        nu = tc.sup_points // 2
        xu = (torch.rand(len(idx), nu, 3, generator=g, device=device) * 2 - 1) * cfg.bounds
        sp = S.surface_points(prims, tc.sup_points - nu, g)[..., :3]
        xn = sp + tc.near_sigma * torch.randn(sp.shape, generator=g, device=device)
        x = torch.cat([xu, xn], 1)
        target = tsdf_target(prims, x, cfg.tsdf_delta)
        mean, logvar, z = vae.encode(surf, q, sample=True, generator=g)
        pred = vae.query(x, vae.decode(z))
        rec = ((pred - target) ** 2).mean()
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = rec + tc.kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0 or step == 1:
            hist.append((step, float(rec.detach())))
            log(f"vae step {step} rec {float(rec):.4f} kl {float(kl):.3f} {time.time() - t0:.0f}s")
    return {"steps": step, "seconds": round(time.time() - t0, 1), "final_rec": float(rec), "history": hist}


@torch.no_grad()
def vae_iou(model: TinyShapeGen4D, seqs, tc: TrainConfig, device) -> dict:
    vae, cfg = model.vae, model.cfg
    g = _gen(7, device)
    grid = S.grid_points(tc.iou_res, cfg.bounds, device)[None]
    res = {"aligned": [], "fps": []}
    aligned = S.aligned_queries(seqs, cfg.vae.num_latents, g)
    for i in range(len(seqs)):
        for t in tc.eval_frames:
            t = min(t, seqs.shape[1] - 1)
            prims = seqs[i:i + 1, t]
            gt = S.sdf(prims, grid) < 0
            surf = S.surface_points(prims, tc.surface_points, g)
            for kind, q in (("aligned", aligned[i:i + 1, t]), ("fps", fps_queries(prims, cfg.vae.num_latents, g))):
                mean, _, _ = vae.encode(surf, q)
                pred = model.tsdf(mean, grid) < 0
                res[kind].append(float((pred & gt).sum() / (pred | gt).sum().clamp(min=1)))
    return {k: {"mean": float(np.mean(v)), "min": float(np.min(v)), "n": len(v)} for k, v in res.items()}


@torch.no_grad()
def latent_jitter(model: TinyShapeGen4D, seqs, tc: TrainConfig, device) -> dict:
    """Fig. 3c: normalised L2 between latents at the closest query positions of neighbouring frames."""
    vae, cfg = model.vae, model.cfg
    g = _gen(11, device)
    B, T = seqs.shape[:2]
    aligned = S.aligned_queries(seqs, cfg.vae.num_latents, g)
    out = {}
    mus = {"aligned": [], "fps": []}
    qs = {"aligned": [], "fps": []}
    for t in range(T):
        surf = S.surface_points(seqs[:, t], tc.surface_points, g)
        for kind, q in (("aligned", aligned[:, t]), ("fps", fps_queries(seqs[:, t], cfg.vae.num_latents, g))):
            mus[kind].append(vae.encode(surf, q)[0])
            qs[kind].append(q[..., :3])
    for kind in mus:
        mu = torch.stack(mus[kind], 1)  # [B, T, L, C]
        q = torch.stack(qs[kind], 1)
        rms = mu.pow(2).sum(-1).mean().sqrt()
        d = []
        for t in range(T - 1):
            j = torch.cdist(q[:, t], q[:, t + 1]).argmin(-1)  # [B, L]
            nxt = torch.gather(mu[:, t + 1], 1, j[..., None].expand(-1, -1, mu.shape[-1]))
            d.append(((mu[:, t] - nxt).norm(dim=-1) / rms).mean())
        out[kind] = float(torch.stack(d).mean())
    out["ratio_aligned_over_fps"] = out["aligned"] / out["fps"]
    return out


@torch.no_grad()
def encode_dataset(model, seqs, tc: TrainConfig, device, chunk=256):
    cfg = model.cfg
    g = _gen(3, device)
    B, T = seqs.shape[:2]
    lat, vid = [], []
    for s in range(0, B, chunk):
        sq = seqs[s:s + chunk]
        q = S.aligned_queries(sq, cfg.vae.num_latents, g)
        zs = []
        for t in range(T):
            surf = S.surface_points(sq[:, t], tc.surface_points, g)
            zs.append(model.vae.encode(surf, q[:, t])[0])
        lat.append(torch.stack(zs, 1))
        v = S.render_silhouette_depth(sq.flatten(0, 1), cfg.encoder.image_res)
        vid.append(v.view(len(sq), T, *v.shape[1:]))
    return torch.cat(lat), torch.cat(vid)


def _drop_depth(video, p, g):
    """video [B, T, 2, H, W]: the depth channel zeroed for a random ``p`` share of the sequences."""
    keep = (torch.rand(video.shape[0], generator=g, device=video.device) >= p).float().view(-1, 1, 1, 1, 1)
    v = video.clone()
    v[:, :, 1:2] *= keep
    return v


def train_base(model: TinyShapeGen4D, lat, vid, tc: TrainConfig, device, log) -> dict:
    params = list(model.dit.base_parameters()) + list(model.encoder.parameters())
    opt = torch.optim.AdamW(params, lr=tc.dit_lr, weight_decay=0.0)
    g = _gen(5, device)
    N, T = lat.shape[:2]
    flat_l, flat_v = lat.flatten(0, 1), vid.flatten(0, 1)

    def base(x, t, c):  # [B, 1, L, C] -> per-frame DiT (no ST layers)
        return model.dit(x[:, 0], t, c[:, 0])[:, None]
    t0, step = time.time(), 0
    while time.time() - t0 < tc.dit_seconds:
        idx = torch.randint(0, len(flat_l), (tc.dit_batch,), generator=g, device=device)
        v = _drop_depth(flat_v[idx][:, None], tc.depth_dropout, g)
        cond = model.encoder(v)
        loss = rf_loss(base, flat_l[idx][:, None], cond, shared_noise=False, generator=g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % 500 == 0 or step == 1:
            log(f"base step {step} loss {float(loss):.4f} {time.time() - t0:.0f}s")
    return {"steps": step, "seconds": round(time.time() - t0, 1), "final_loss": float(loss)}


def train_st(dit, encoder, lat, vid, tc: TrainConfig, shared: bool, seed: int, device, steps: int | None, log):
    params = list(dit.st_parameters())
    opt = torch.optim.AdamW(params, lr=tc.st_lr, weight_decay=0.0)
    g = _gen(100 + seed, device)
    t0, step = time.time(), 0
    while (step < steps) if steps else (time.time() - t0 < tc.st_seconds):
        idx = torch.randint(0, len(lat), (tc.st_batch,), generator=g, device=device)
        with torch.no_grad():
            cond = encoder(_drop_depth(vid[idx], tc.depth_dropout, g))
        loss = rf_loss(dit, lat[idx], cond, shared_noise=shared, generator=g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
    log(f"  st {dit.cfg.st_attention} shared={shared} seed={seed}: {step} steps loss {float(loss):.4f} "
        f"{time.time() - t0:.1f}s")
    return step, float(loss)


@torch.no_grad()
def eval_generation(model: TinyShapeGen4D, fn, seqs, vid, tc: TrainConfig, shared: bool, device) -> dict:
    cfg = model.cfg
    grid = S.grid_points(tc.gen_res, cfg.bounds, device)[None]
    B, T = seqs.shape[:2]
    cond = model.encoder(vid)
    shape = (B, T, cfg.vae.num_latents, cfg.vae.embed_dim)
    noise = noise_like(torch.zeros(shape, device=device), shared, _gen(1234, device))
    z = rf_sample(fn, shape, cond, steps=cfg.sample_steps, shift=cfg.shift, noise=noise) / cfg.latent_scale
    ious, jit, jit_gt = [], [], []
    for b in range(B):
        s_pred = torch.stack([model.tsdf(z[b, t:t + 1], grid)[0] for t in range(T)]).clamp(-1, 1)  # [T, P]
        s_gt = torch.stack([tsdf_target(seqs[b, t:t + 1], grid, cfg.tsdf_delta)[0] for t in range(T)])
        for t in range(T):
            p, q = s_pred[t] < 0, s_gt[t] < 0
            ious.append(float((p & q).sum() / (p | q).sum().clamp(min=1)))
        jit.append(float((s_pred[2:] - 2 * s_pred[1:-1] + s_pred[:-2]).abs().mean()))
        jit_gt.append(float((s_gt[2:] - 2 * s_gt[1:-1] + s_gt[:-2]).abs().mean()))
    return {"iou": float(np.mean(ious)), "jitter": float(np.mean(jit)), "jitter_gt": float(np.mean(jit_gt))}


def jitter_vs_frames(model: TinyShapeGen4D, tc: TrainConfig, frames=(8, 16, 32), num: int = 12, device="cpu") -> dict:
    """Fig. 3c at finer temporal sampling of the same motions (the clip's motion split into more frames, i.e. smaller
    inter-frame motion, as in a 24 fps video) and on a static clip (the same frame repeated)."""
    out = {}
    for T in frames:
        seqs, _ = make_sequences(range(10_000_000, 10_000_000 + num), S.ShapeDataConfig(frames=T))
        out[f"T={T}"] = latent_jitter(model, seqs.to(device), tc, device)
    seqs, _ = make_sequences(range(10_000_000, 10_000_000 + num), S.ShapeDataConfig(frames=tc.data.frames))
    out["static"] = latent_jitter(model, seqs[:, :1].expand(-1, 4, -1, -1).contiguous().to(device), tc, device)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--eval-jitter", metavar="CKPT", help="only measure Fig. 3c vs frame count on a trained checkpoint "
                    "folder ('bundled' = the registry's) -> OUT/jitter.json")
    a = ap.parse_args(argv)
    if a.eval_jitter:
        from pathlib import Path
        from .tiny import load_tiny
        m = load_tiny(None if a.eval_jitter == "bundled" else a.eval_jitter, a.device)
        r = jitter_vs_frames(m, PRESETS[a.preset], device=a.device)
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "jitter.json").write_text(json.dumps(r, indent=1))
        print(json.dumps(r, indent=1))
        return 0
    from pathlib import Path
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tc = copy.deepcopy(PRESETS[a.preset])
    dev = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    T0 = time.time()
    logf = open(out / "train_log.txt", "w")

    def log(msg):
        line = f"[{time.time() - T0:6.1f}s] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()
    metrics: dict = {"preset": a.preset, "device": str(dev), "train_config": asdict(tc)}
    if dev.type == "cuda":
        metrics["gpu"] = torch.cuda.get_device_name(0)

    def dump():
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=str))
    torch.manual_seed(0)
    cfg = TinyConfig(frames=tc.data.frames)
    cfg.encoder.image_res = tc.data.image_res
    model = TinyShapeGen4D(cfg).to(dev)
    train, fams = make_sequences(range(tc.num_train), tc.data)
    held, hfams = make_sequences(range(10_000_000, 10_000_000 + tc.num_eval), tc.data)
    train, held = train.to(dev), held.to(dev)
    metrics["families_eval"] = {f: hfams.count(f) for f in set(hfams)}
    log(f"data: {len(train)} train / {len(held)} held-out sequences x {tc.data.frames} frames")

    metrics["vae_train"] = train_vae(model, train, tc, dev, log)
    model.vae.eval()
    metrics["vae_iou_128"] = vae_iou(model, held, tc, dev)
    log(f"VAE IoU@{tc.iou_res}: {metrics['vae_iou_128']}")
    save_tiny(model, out)  # an early checkpoint (VAE trained) in case the run is cut short
    metrics["latent_jitter_fig3c"] = latent_jitter(model, held, tc, dev)
    log(f"latent jitter: {metrics['latent_jitter_fig3c']}")
    dump()

    lat, vid = encode_dataset(model, train, tc, dev)
    cfg.latent_scale = float(1.0 / lat.std())
    lat = lat * cfg.latent_scale
    _, hvid = encode_dataset(model, held, tc, dev)
    log(f"latents {tuple(lat.shape)} scale {cfg.latent_scale:.3f}")
    metrics["dit_base"] = train_base(model, lat, vid, tc, dev, log)
    model.encoder.eval()
    base_sd = copy.deepcopy(model.dit.state_dict())

    def base_fn(x, t, c):
        return model.dit(x.flatten(0, 1), t.repeat_interleave(x.shape[1]) if t.numel() == x.shape[0] else t,
                         c.flatten(0, 1)).view(x.shape)
    gen = {}
    for shared in (False, True):
        gen[f"base_per_frame/{'shared' if shared else 'independent'}"] = [
            eval_generation(model, base_fn, held, hvid, tc, shared, dev)]
    steps = None
    full_model_sd = None
    for attn, shared in tc.variants:
        key = f"{attn}/{'shared' if shared else 'independent'}"
        gen[key] = []
        for seed in range(tc.seeds):
            torch.manual_seed(1000 + seed)
            dit = type(model.dit)(tiny_dit_config(st_attention=attn)).to(dev)
            sd = dit.state_dict()
            sd.update({k: v for k, v in base_sd.items() if not k.startswith("st_blocks.")})
            dit.load_state_dict(sd)
            n, _ = train_st(dit, model.encoder, lat, vid, tc, shared, seed, dev, steps, log)
            steps = steps or n
            dit.eval()
            r = eval_generation(model, dit, held, hvid, tc, shared, dev)
            r["seed"] = seed
            gen[key].append(r)
            log(f"  {key} seed {seed}: {r}")
            if attn == "joint" and shared and seed == 0:
                full_model_sd = copy.deepcopy(dit.state_dict())
        metrics["generation"] = {k: {"runs": v, "iou_mean": float(np.mean([r["iou"] for r in v])),
                                     "jitter_mean": float(np.mean([r["jitter"] for r in v]))} for k, v in gen.items()}
        dump()
    metrics["st_steps_per_variant"] = steps
    if full_model_sd is not None:
        model.dit.load_state_dict(full_model_sd)
    ck = save_tiny(model.cpu(), out)
    metrics["checkpoint"] = str(ck)
    metrics["total_seconds"] = round(time.time() - T0, 1)
    dump()
    log(f"done in {metrics['total_seconds']}s -> {ck}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
