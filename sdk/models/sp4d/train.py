"""Two-stage SP4D training (App. A) on procedurally generated articulated objects, on one GPU.

Data: random articulated objects (``sdk.procedural``) posed over T frames, rendered by ``sdk.render``
from V orbit views (view 0 = the monocular input video), with per-pixel kinematic part ids and their
spatial colour encoding. Then:

0. VAE: a small ``AutoencoderKL`` trained on RGB and part-encoding renders (the full model uses SD's VAE);
   latents are precomputed once (as in App. A).
1. Stage 1: the RGB branch alone (BiDiFuse bypassed), EDM L2 loss.
2. Stage 2: both branches initialised from stage 1, BiDiFuse on, EDM L2 on both halves + contrastive part
   consistency loss (InfoNCE over part-pooled part-branch features, tau = 0.07).
3. Evaluation on a held-out procedural split: mIoU / ARI / F1 / mAcc (Hungarian matching) of SP4D part
   maps (back-mapped) against the colour-clustering baseline on the RGB renders.

Each stage runs for a wall-clock budget (seconds) so a run fits a fixed slot::

    python -m sdk.models.sp4d.train --out OUTDIR                  # small model (GPU)
    python -m sdk.models.sp4d.train --preset tiny --out /tmp/t    # CPU smoke run in about a minute
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from ...procedural import random_object
from ...render import render_mesh
from .colour_encoding import decode, encode, part_colors
from .losses import edm_loss, info_nce, pool_part_features
from .model import ModelMeta, SP4DModel, small_vae_config, tiny_vae_config
from .sampler import precondition, sample_training_sigmas
from .unet import SP4DConfig
from .views import DataConfig, camera_inputs, normalize_frames, view_cameras  # noqa: F401 (re-exported)

MAX_PARTS = 16


def make_sample(seed: int, dc: DataConfig, device="cpu", with_faces: bool = False) -> dict:
    """One procedural object rendered from V views x T frames: rgb, enc (part colour encoding) [V,T,H,W,3] uint8,
    labels [V,T,H,W] int8, camera [V,2]; with ``with_faces`` also face [V,T,H,W] int32 (visible triangle, -1 none)."""
    rng = np.random.default_rng(seed + 104729)
    obj = random_object(seed, uniform_color_prob=dc.uniform_color_prob)
    mesh = obj.mesh()
    q = obj.animate(dc.frames, seed=seed)
    if rng.random() < dc.static_prob:
        q[:] = q[:1]
    verts = normalize_frames(obj.pose_vertices(q, mesh))                     # [T, V, 3]
    colors = part_colors(verts[0], mesh.vertex_part, obj.num_parts)
    el = float(rng.uniform(0.15, 0.5))
    az0 = float(rng.uniform(0, 2 * np.pi))
    cams = view_cameras(az0, el, dc, device)
    vv = np.tile(verts[None], (dc.views, 1, 1, 1)).reshape(dc.views * dc.frames, -1, 3)
    r = render_mesh(vv, mesh.faces, cams, face_colors=mesh.face_colors, face_labels=mesh.face_part)
    shp = (dc.views, dc.frames, dc.res, dc.res)
    enc = encode(r.labels, colors)
    out = {"rgb": (r.rgb.reshape(*shp, 3) * 255).round().to(torch.uint8),
            "enc": (enc.reshape(*shp, 3) * 255).round().to(torch.uint8),
            "labels": r.labels.reshape(shp).to(torch.int8),
            "camera": torch.tensor(camera_inputs(el, dc), dtype=torch.float32, device=device),
            "palette": colors, "num_parts": obj.num_parts, "category": obj.category}
    if with_faces:
        out["face"] = r.face_id.reshape(shp).to(torch.int32)
    return out


def _sample_job(args):
    torch.set_num_threads(1)
    return make_sample(*args)


def make_dataset(seeds, dc: DataConfig, device="cpu", workers: int = 1, with_faces: bool = False) -> dict:
    """Render objects ``seeds`` (on CPU with ``workers`` processes when > 1), stacked and moved to ``device``."""
    jobs = [(int(s), dc, "cpu", with_faces) for s in seeds]
    keys = ("rgb", "enc", "labels", "camera") + (("face",) if with_faces else ())
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            items = pool.map(_sample_job, jobs, chunksize=8)
    else:
        items = [make_sample(*j) for j in jobs]
    for it in items:
        for k in keys:
            it[k] = it[k].to(device)
    out = {k: torch.stack([it[k] for it in items]) for k in keys}
    out["palette"] = [it["palette"] for it in items]
    out["category"] = [it["category"] for it in items]
    return out


def to_images(u8: torch.Tensor) -> torch.Tensor:
    """[..., H, W, 3] uint8 -> [M, 3, H, W] float in [0, 1]"""
    return u8.reshape(-1, *u8.shape[-3:]).permute(0, 3, 1, 2).float() / 255


# ----------------------------------------------------------------------------------------------- stages

def _autocast(device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)


def train_vae(model: SP4DModel, data: dict, seconds: float, batch: int, lr: float, device, log) -> dict:
    vae = model.vae
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    imgs = torch.cat([data["rgb"].reshape(-1, *data["rgb"].shape[-3:]), data["enc"].reshape(-1, *data["enc"].shape[-3:])])
    t0, step, losses = time.time(), 0, []
    g = torch.Generator(device="cpu").manual_seed(0)
    while time.time() - t0 < seconds:
        idx = torch.randint(len(imgs), (batch,), generator=g).to(imgs.device)
        x = to_images(imgs[idx]) * 2 - 1
        with _autocast(device):
            post = vae.encode(x).latent_dist
            z = post.sample()
            rec = vae.decode(z).sample
        kl = post.kl().mean() / x[0].numel()
        loss = F.l1_loss(rec.float(), x) + F.mse_loss(rec.float(), x) + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss))
        step += 1
        if step % 200 == 0:
            log(f"vae step {step} loss {np.mean(losses[-200:]):.4f}")
    return {"steps": step, "final_loss": float(np.mean(losses[-50:])) if losses else None}


@torch.no_grad()
def encode_all(model: SP4DModel, u8: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """[M, V, T, H, W, 3] uint8 -> latents [M, V, T, Cl, h, w] (unscaled posterior mode)"""
    imgs = u8.reshape(-1, *u8.shape[-3:])
    out = []
    for i in range(0, len(imgs), batch):
        out.append(model.vae.encode(to_images(imgs[i:i + batch]) * 2 - 1).latent_dist.mode())
    z = torch.cat(out)
    return z.reshape(*u8.shape[:3], *z.shape[1:])


def _cond(lat_rgb: torch.Tensor, g, device):
    """condition = view-0 RGB latents with small noise augmentation. -> (cond [B,T,Cl,h,w], cond_aug [B])"""
    b = lat_rgb.shape[0]
    aug = torch.rand(b, generator=g).to(device) * 0.05
    cond = lat_rgb[:, 0] + aug.view(-1, 1, 1, 1, 1) * torch.randn(lat_rgb[:, 0].shape, generator=g).to(device)
    return cond, aug


def train_stage1(model: SP4DModel, lat_rgb, cams, seconds, batch, lr, device, log) -> dict:
    branch = model.unet.branch_rgb
    params = list(branch.parameters()) + list(model.context_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)
    t0, step, losses = time.time(), 0, []
    while time.time() - t0 < seconds:
        idx = torch.randint(len(lat_rgb), (batch,), generator=g).to(device)
        x0 = lat_rgb[idx]
        cond, aug = _cond(x0, g, device)
        sigma = sample_training_sigmas(batch, generator=g).to(device)
        noisy = x0 + sigma.view(-1, 1, 1, 1, 1, 1) * torch.randn(x0.shape, generator=g).to(device)
        with _autocast(device):
            ctx = model.context_encoder(cond)
            den = precondition(branch, noisy, sigma, cond, ctx, cams[idx], aug)
        loss = edm_loss(den.float(), x0, sigma)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss))
        step += 1
        if step % 100 == 0:
            log(f"stage1 step {step} loss {np.mean(losses[-100:]):.4f}")
    return {"steps": step, "final_loss": float(np.mean(losses[-50:])) if losses else None}


def downsample_labels(labels: torch.Tensor, size: int) -> torch.Tensor:
    """[M, H, W] int -> [M, size, size] by nearest sampling at cell centres"""
    h = labels.shape[-1]
    f = h // size
    return labels[:, f // 2::f, f // 2::f][:, :size, :size]


def train_stage2(model: SP4DModel, lat_rgb, lat_enc, labels, cams, seconds, batch, lr, device, log,
                 lambda_contrast: float = 0.05, tau: float = 0.07, rgb_given_prob: float = 0.0,
                 p_mean: float = -0.4, p_std: float = 1.2, init_from_rgb: bool = True) -> dict:
    """Stage 2: both branches, BiDiFuse, EDM L2 on both halves + InfoNCE on part features.

    rgb_given_prob: share of samples whose RGB half is given clean (noise level 0, ``precondition(sigma_x=...)``)
        while the part half is noised at sigma: the known-views mode of ``SP4DModel.generate`` (lifting parts
        onto a mesh we can render). Those samples have no RGB loss term. The rest are the paper's joint samples.
    p_mean, p_std: log-normal training noise levels (EDM).
    """
    unet = model.unet
    if init_from_rgb:
        unet.init_from_rgb_branch()
    cl = unet.cfg.latent_channels
    c = unet.cfg.model_channels
    head = torch.nn.Sequential(torch.nn.Linear(c, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64)).to(device)
    params = list(unet.parameters()) + list(model.context_encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(2)
    s = unet.cfg.latent_size
    t0, step, ls, lc = time.time(), 0, [], []
    while time.time() - t0 < seconds:
        idx = torch.randint(len(lat_rgb), (batch,), generator=g).to(device)
        x0 = torch.cat([lat_rgb[idx], lat_enc[idx]], 3)
        cond, aug = _cond(lat_rgb[idx], g, device)
        sigma = sample_training_sigmas(batch, p_mean, p_std, generator=g).to(device)
        given = (torch.rand(batch, generator=g) < rgb_given_prob).float().to(device)            # [B]
        sx = sigma.view(-1, 1, 1, 1, 1, 1).repeat(1, 1, 1, 2 * cl, 1, 1)
        sx[:, :, :, :cl] *= (1 - given).view(-1, 1, 1, 1, 1, 1)                                  # RGB half clean
        noisy = x0 + sx * torch.randn(x0.shape, generator=g).to(device)
        with _autocast(device):
            ctx = model.context_encoder(cond)
            feats = {}

            def net(x, c_noise, *a):
                out, hp = unet.forward_features(x, c_noise, *a)
                feats["hp"] = hp
                return out
            den = precondition(net, noisy, sigma, cond, ctx, cams[idx], aug, sigma_x=sx)
        w = (sigma ** 2 + 1) / sigma ** 2                                                         # EDM lambda
        err = (den.float() - x0).pow(2)
        e_rgb = err[:, :, :, :cl].flatten(1).mean(1)
        e_part = err[:, :, :, cl:].flatten(1).mean(1)
        l_edm = (w * 0.5 * (e_part + (1 - given) * e_rgb)).mean()   # = edm_loss over both halves when not given
        lab = downsample_labels(labels[idx].reshape(-1, *labels.shape[-2:]).long(), s)
        nimg = lab.shape[0]
        groups = torch.arange(batch, device=device).repeat_interleave(nimg // batch)
        pf, ids = pool_part_features(feats["hp"].float(), lab, groups, MAX_PARTS)
        l_con = info_nce(head(pf), ids, tau)
        loss = l_edm + lambda_contrast * l_con
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ls.append(float(l_edm))
        lc.append(float(l_con))
        step += 1
        if step % 100 == 0:
            log(f"stage2 step {step} edm {np.mean(ls[-100:]):.4f} contrast {np.mean(lc[-100:]):.4f}")
    return {"steps": step, "final_edm": float(np.mean(ls[-50:])) if ls else None,
            "final_contrast": float(np.mean(lc[-50:])) if lc else None}


# ----------------------------------------------------------------------------------------------- eval

def _backmap_job(args):
    from .backmap import backmap
    imgs, fg, face = args
    return backmap(imgs, fg=fg, face_ids=face)


@torch.no_grad()
def evaluate(model: SP4DModel, data: dict, steps: int, device, batch: int, workers: int = 1, log=print,
             name: str = "SP4D-small", baselines: bool = True, monocular: bool = True):
    """Metrics (means over objects) for: SP4D with given RGB views (back-mapped by colour clustering as in
    the paper's weight-free fallback, and with colours pooled per visible triangle when ``data["face"]`` is
    there), SP4D from the monocular video alone, and with ``baselines`` the colour-clustering baseline on the
    RGB renders (plain and triangle-pooled, the control for the geometry) and the oracle-palette decode."""
    from .metrics import part_metrics
    model.eval()
    n = data["rgb"].shape[0]
    gens_c, gens_f = [], []
    for i in range(0, n, batch):
        rgb = to_images(data["rgb"][i:i + batch]).reshape(*data["rgb"][i:i + batch].shape[:3], 3, *data["rgb"].shape[-3:-1])
        cams = data["camera"][i:i + batch]
        with _autocast(device):
            _, pc = model.generate(rgb, rgb[:, 0], cams, steps=steps, seed=i)
            gens_c.append(pc.float().permute(0, 1, 2, 4, 5, 3).cpu())
            if monocular:
                _, pf = model.generate(None, rgb[:, 0], cams, steps=steps, seed=i)
                gens_f.append(pf.float().permute(0, 1, 2, 4, 5, 3).cpu())
    gen_c = torch.cat(gens_c).numpy()
    gen_f = torch.cat(gens_f).numpy() if monocular else None
    rgb_np = data["rgb"].cpu().numpy().astype(np.float64) / 255
    labels = data["labels"].cpu().numpy().astype(np.int64)
    faces = data["face"].cpu().numpy() if "face" in data else None
    res = gen_c.shape[-2]
    jobs, keys = [], []
    for j in range(n):
        fg = labels[j].reshape(-1, res, res) >= 0
        fid = faces[j].reshape(-1, res, res) if faces is not None else None
        todo = {f"{name} (RGB views given)": (gen_c[j], fg, None)}
        if fid is not None:
            todo[f"{name} (RGB views given), triangle-pooled decode"] = (gen_c[j], None, fid)
        if monocular:
            todo[f"{name} (monocular video only)"] = (gen_f[j], None, None)
        if baselines:
            todo["colour clustering on RGB (baseline)"] = (rgb_np[j], None, None)
            if fid is not None:
                todo["colour clustering on RGB, triangle-pooled (control)"] = (rgb_np[j], None, fid)
        for k, (im, f_, fi) in todo.items():
            jobs.append((im.reshape(-1, res, res, 3), f_, fi))
            keys.append((j, k))
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            maps = pool.map(_backmap_job, jobs)
    else:
        maps = [_backmap_job(jb) for jb in jobs]
    rows, by_obj = {}, {}
    for (j, k), mp_ in zip(keys, maps):
        gt = labels[j].reshape(-1, res, res)
        rows.setdefault(k, []).append(part_metrics(mp_, gt))
        by_obj[(j, k)] = mp_
    if baselines:
        for j in range(n):
            orc = decode(gen_c[j].reshape(-1, res, res, 3), data["palette"][j]).numpy()
            rows.setdefault("oracle palette decode (diagnostic)", []).append(part_metrics(orc, labels[j].reshape(-1, res, res)))
    table = {k: {m: float(np.mean([r[m] for r in v])) for m in ("miou", "ari", "f1", "macc")} for k, v in rows.items()}
    model.train()
    ours = f"{name} (RGB views given)" + (", triangle-pooled decode" if faces is not None else "")
    base = "colour clustering on RGB (baseline)"
    return table, {"gen_c": gen_c, "gen_f": gen_f, "maps": [by_obj[(j, ours)] for j in range(n)],
                   "base_maps": [by_obj[(j, base)] for j in range(n)] if baselines else None}


def metrics_markdown(table: dict, n: int) -> str:
    lines = [f"| method (held-out procedural split, {n} objects) | mIoU | ARI | F1 | mAcc |", "|---|---|---|---|---|"]
    for k, v in table.items():
        lines.append(f"| {k} | {v['miou']:.3f} | {v['ari']:.3f} | {v['f1']:.3f} | {v['macc']:.3f} |")
    return "\n".join(lines)


def preview(data: dict, extra: dict, path, count: int = 3) -> None:
    """Rows per object: RGB, GT part encoding, generated encoding, SP4D part map, baseline part map (frame 0)."""
    from PIL import Image

    from ...render.preview import label_image
    res = data["rgb"].shape[-2]
    v = data["rgb"].shape[1]
    rows = []
    for j in range(min(count, data["rgb"].shape[0])):
        rgb = data["rgb"][j, :, 0].cpu().numpy() / 255
        enc = data["enc"][j, :, 0].cpu().numpy() / 255
        gen = extra["gen_c"][j][:, 0]
        t = data["rgb"].shape[2]
        ours = extra["maps"][j].reshape(v, t, res, res)[:, 0]
        base = extra["base_maps"][j].reshape(v, t, res, res)[:, 0]
        for row in (rgb, enc, gen, label_image(ours, 64), label_image(base, 64)):
            rows.append(np.concatenate(list(row), 1))
    img = (np.clip(np.concatenate(rows, 0), 0, 1) * 255).astype(np.uint8)
    Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST).save(path)


# ----------------------------------------------------------------------------------------------- main

PRESETS = {
    "small": dict(cfg=SP4DConfig.small, vae=small_vae_config, data=DataConfig(), num_train=2000, num_eval=48,
                  vae_seconds=50, stage1_seconds=70, stage2_seconds=170, vae_batch=128, batch=8, lr=2e-4,
                  eval_steps=12, eval_batch=8, rgb_given_prob=0.5, p_mean=-0.4, p_std=1.2),
    "tiny": dict(cfg=SP4DConfig.tiny, vae=tiny_vae_config, data=DataConfig(views=2, frames=2, res=16), num_train=12,
                 num_eval=3, vae_seconds=4, stage1_seconds=4, stage2_seconds=6, vae_batch=16, batch=2, lr=2e-4,
                 eval_steps=3, eval_batch=2, rgb_given_prob=0.5, p_mean=-0.4, p_std=1.2),
}
_OVERRIDES = ("num_train", "num_eval", "vae_seconds", "stage1_seconds", "stage2_seconds", "batch", "eval_steps",
              "workers", "rgb_given_prob", "p_mean", "p_std", "lr")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--out", required=True, help="output folder: weights, metrics, preview")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    for k in _OVERRIDES:
        ap.add_argument("--" + k.replace("_", "-"),
                        type=float if ("seconds" in k or k.startswith("p_") or k in ("rgb_given_prob", "lr")) else int,
                        default=None)
    ap.add_argument("--init", default=None, help="continue from these SP4D weights: keeps their VAE (and latent "
                    "scale), skips the VAE and stage 1 and trains stage 2 from them")
    ap.add_argument("--compare", default=None, help="also evaluate these SP4D weights on the same held-out split")
    a = ap.parse_args(argv)
    p = dict(PRESETS[a.preset])
    p["workers"] = 1
    for k in _OVERRIDES:
        if getattr(a, k) is not None:
            p[k] = getattr(a, k)
    from pathlib import Path
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(a.seed)
    logf = open(out / "train_log.txt", "w")

    def log(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    dc = p["data"]
    t0 = time.time()
    # data first, in forked CPU workers, before CUDA is initialised
    device = torch.device("cpu")
    train = make_dataset(range(a.seed, a.seed + p["num_train"]), dc, device, p["workers"])
    evald = make_dataset(range(10_000_000 + a.seed, 10_000_000 + a.seed + p["num_eval"]), dc, device, p["workers"],
                         with_faces=True)
    log(f"data: {p['num_train']} train / {p['num_eval']} held-out objects, {dc.views} views x {dc.frames} frames "
        f"at {dc.res}^2 in {time.time() - t0:.1f}s")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    for d in (train, evald):
        for k in ("rgb", "enc", "labels", "camera", "face"):
            if k in d:
                d[k] = d[k].to(device)
    info = {"preset": a.preset, "device": str(device), "params": {k: p[k] for k in _OVERRIDES if k in p}}
    if a.init:
        model = SP4DModel.load(a.init, device=device).train()
        info["init"] = {"file": str(a.init), "trained": model.meta.trained}
        log(f"continuing from {a.init} (VAE, latent scale {model.meta.latent_scale:.4f} and both branches kept)")
    else:
        model = SP4DModel(p["cfg"](), p["vae"]()).to(device)
    log(f"parameters: unet {sum(x.numel() for x in model.unet.parameters()) / 1e6:.2f}M, "
        f"vae {sum(x.numel() for x in model.vae.parameters()) / 1e6:.2f}M")
    if not a.init:
        info["vae"] = train_vae(model, train, p["vae_seconds"], p["vae_batch"], 1e-3, device, log)
    model.vae.eval()
    for q in model.vae.parameters():
        q.requires_grad_(False)
    lat_rgb = encode_all(model, train["rgb"])
    lat_enc = encode_all(model, train["enc"])
    if not a.init:
        model.meta.latent_scale = float(1.0 / torch.cat([lat_rgb, lat_enc]).std())
    scale = model.meta.latent_scale
    lat_rgb, lat_enc = lat_rgb * scale, lat_enc * scale
    log(f"latents {tuple(lat_rgb.shape)} scale {scale:.4f}")
    if not a.init:
        info["stage1"] = train_stage1(model, lat_rgb, train["camera"], p["stage1_seconds"], p["batch"], p["lr"],
                                      device, log)
    info["stage2"] = train_stage2(model, lat_rgb, lat_enc, train["labels"], train["camera"], p["stage2_seconds"],
                                  p["batch"], p["lr"], device, log, rgb_given_prob=p["rgb_given_prob"],
                                  p_mean=p["p_mean"], p_std=p["p_std"], init_from_rgb=not a.init)
    model.meta.rgb_given_prob = float(p["rgb_given_prob"])
    model.meta.image_size = dc.res
    model.meta.camera_radius = dc.radius
    model.meta.fov_deg = dc.fov_deg
    model.meta.trained = {"command": "python -m sdk.models.sp4d.train " + " ".join(argv or []), **info}
    wpath = model.save(out / f"sp4d_{a.preset}.safetensors")
    log(f"saved {wpath} ({wpath.stat().st_size / 1e6:.1f} MB)")
    t1 = time.time()
    table, extra = evaluate(model, evald, p["eval_steps"], device, p["eval_batch"], p["workers"], log)
    if a.compare:
        other = SP4DModel.load(a.compare, device=device)
        t_other, _ = evaluate(other, evald, p["eval_steps"], device, p["eval_batch"], p["workers"], log,
                              name="compared SP4D-small", baselines=False, monocular=False)
        table.update(t_other)
        info["compare"] = str(a.compare)
    info["eval_seconds"] = time.time() - t1
    md = metrics_markdown(table, p["num_eval"])
    log("\n" + md)
    (out / "metrics.md").write_text(md + "\n")
    (out / "metrics.json").write_text(json.dumps({"table": table, "info": info}, indent=1))
    preview(evald, extra, out / "preview.png")
    log(f"total {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
