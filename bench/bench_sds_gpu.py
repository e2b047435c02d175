"""One AKD SDS iteration of the full loop at the paper's size with random weights (CogVideoX-5B architecture):
FK -> LBS Gaussians -> splat (torch reference and/or gsplat, ``--backends``) + ground -> 3D VAE encode (gradient checkpointing on/off) ->
transformer (CFG batch of 2) -> SDS gradient -> backward to the joint angles. Time and peak memory.

    python bench/bench_sds_gpu.py --rig rig.npz [--frames 49 --width 720 --height 480 --gaussians 20000] [--json out]
    python bench/bench_sds_gpu.py --rig rig.npz --backends torch,gsplat   # the renderer inside the loop, side by side

``rig.npz`` (written by ``--export-rig FOX.glb``) keeps the device free of the glTF reader's dependencies.
The paper reports ~25 h for 10,000 iterations on one A100-40GB (~9 s per iteration).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def export_rig(src, dst):
    import numpy as np
    from sdk.io import load_asset
    r = load_asset(src).rig
    np.savez(dst, vertices=r.mesh.vertices, faces=r.mesh.faces, names=np.array(r.skeleton.names),
             parents=r.skeleton.parents, rest_local=r.skeleton.rest_local, bind_world=r.skeleton.bind_world,
             skin_idx=r.skin.indices, skin_w=r.skin.weights)


def load_rig(path):
    import numpy as np
    from sdk.core import Mesh, Rig, Skeleton, SkinWeights
    d = np.load(path)
    return Rig(Mesh(d["vertices"], d["faces"]), Skeleton(list(d["names"]), d["parents"], d["rest_local"], d["bind_world"]),
               SkinWeights(d["skin_idx"], d["skin_w"])).validate()


def build_5b(device, dtype):
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXTransformer3DModel
    with torch.device(device):
        # CogVideoX-5B (scripts/convert_cogvideox_to_diffusers.py): 42 layers, 48 heads of 64, RoPE, 16 channels
        tr = CogVideoXTransformer3DModel(num_attention_heads=48, attention_head_dim=64, in_channels=16,
                                         out_channels=16, time_embed_dim=512, text_embed_dim=4096, num_layers=42,
                                         sample_width=90, sample_height=60, sample_frames=49, patch_size=2,
                                         use_rotary_positional_embeddings=True).to(dtype)
        vae = AutoencoderKLCogVideoX(scaling_factor=0.7).to(dtype)
    sch = CogVideoXDDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                 prediction_type="v_prediction", rescale_betas_zero_snr=True, snr_shift_scale=1.0,
                                 timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=True)
    return tr, vae, sch


def build_tiny(device):
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXTransformer3DModel
    tr = CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
                                     time_embed_dim=2, text_embed_dim=32, num_layers=1, sample_width=4, sample_height=4,
                                     sample_frames=9, patch_size=2, max_text_seq_length=16,
                                     use_rotary_positional_embeddings=True).to(device)
    vae = AutoencoderKLCogVideoX(down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
                                 block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1,
                                 norm_num_groups=2, scaling_factor=0.7).to(device)
    return tr, vae, CogVideoXDDIMScheduler(prediction_type="v_prediction", rescale_betas_zero_snr=True)


def one_setting(a, dev, kin_c, sg, tr, vae, sch, ckpt, backend, sync, peak) -> dict:
    """Time ``a.iterations`` SDS iterations with VAE checkpointing ``ckpt`` and Gaussian renderer ``backend``."""
    import torch
    from sdk.models.cogvideox import CogVideoXGuidance, CogVideoXGuidanceConfig
    from sdk.motion.distill import DistillConfig, initial_params
    from sdk.motion.kinematics import MotionParams
    from sdk.motion.render import render_motion
    emb = torch.randn(1, 16, 32, device=dev) if a.tiny else torch.randn(1, 226, 4096, device=dev, dtype=torch.bfloat16)
    g = CogVideoXGuidance(tr, vae, sch, emb, cfg=CogVideoXGuidanceConfig(gradient_checkpointing=ckpt))
    if not ckpt:
        vae.disable_gradient_checkpointing()
    cfg = DistillConfig(frames=a.frames, width=a.width, height=a.height)
    p0 = initial_params(kin_c, cfg)
    ang = p0.angles.clone().requires_grad_(True)
    times, parts = [], {}
    try:
        for it in range(a.iterations):
            sync()
            if dev.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            t = time.perf_counter()
            video, _ = render_motion(kin_c, sg, MotionParams(ang, p0.root), size=(a.width, a.height), backend=backend)
            sync()
            t_r = time.perf_counter()
            loss = g.loss(video.permute(3, 0, 1, 2)[None], it)
            sync()
            t_f = time.perf_counter()
            loss.backward()
            sync()
            t_b = time.perf_counter()
            times.append(t_b - t)
            parts = {"render_s": t_r - t, "vae_encode+transformer_s": t_f - t_r, "backward_s": t_b - t_f}
            print(f"{backend} ckpt={ckpt} it {it}: {t_b - t:.2f}s {parts} peak {peak():.1f} GiB", flush=True)
        return {"backend": backend, "iteration_s": times, "last_parts": parts, "peak_GiB": peak(),
                "grad_finite": bool(torch.isfinite(ang.grad).all()), "latent_shape": list(g.last_input_shape or [])}
    except torch.OutOfMemoryError as e:
        print("OOM", backend, ckpt, flush=True)
        return {"backend": backend, "oom": str(e)[:200]}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rig", default=None)
    ap.add_argument("--export-rig", nargs=2, metavar=("GLB", "NPZ"))
    ap.add_argument("--frames", type=int, default=49)
    ap.add_argument("--width", type=int, default=720)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--gaussians", type=int, default=20000)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--no-checkpointing-too", action="store_true", help="also measure without VAE checkpointing")
    ap.add_argument("--json", default=None)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny random model (a CPU smoke test of this script)")
    ap.add_argument("--backends", default="torch", help="comma-separated Gaussian renderers to time inside the loop "
                    "(torch = the reference splatter, gsplat = CUDA)")
    a = ap.parse_args(argv)
    if a.export_rig:
        export_rig(*a.export_rig)
        return 0
    import torch
    from sdk.motion import KinematicRig
    from sdk.motion.render import SkinnedGaussians
    dev = a.device
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
    peak = (lambda: torch.cuda.max_memory_allocated() / 2 ** 30) if dev.startswith("cuda") else (lambda: 0.0)
    rig = load_rig(a.rig)
    kin = KinematicRig(rig, device="cpu")
    t0 = time.perf_counter()
    sg = SkinnedGaussians.from_rig(kin, a.gaussians)
    kin_c = KinematicRig(rig, device=dev)
    sg = SkinnedGaussians(*(x.to(dev) for x in (sg.means, sg.covs, sg.opacities, sg.colors, sg.idx, sg.w)))
    tr, vae, sch = build_tiny(dev) if a.tiny else build_5b(dev, torch.bfloat16)
    build_s = time.perf_counter() - t0
    results = {"frames": a.frames, "size": [a.width, a.height], "gaussians": a.gaussians, "build_s": build_s,
               "transformer_params_B": sum(p.numel() for p in tr.parameters()) / 1e9}
    backends = [b.strip() for b in a.backends.split(",") if b.strip()]
    for backend in backends:
        for ckpt in ([True, False] if a.no_checkpointing_too else [True]):
            key = f"ckpt_{ckpt}" if backends == ["torch"] else f"{backend}_ckpt_{ckpt}"
            results[key] = one_setting(a, dev, kin_c, sg, tr, vae, sch, ckpt, backend, sync, peak)
            if dev.startswith("cuda"):
                torch.cuda.empty_cache()
    if len(backends) > 1 and all("iteration_s" in results.get(f"{b}_ckpt_True", {}) for b in backends):
        r = {b: results[f"{b}_ckpt_True"]["last_parts"]["render_s"] for b in backends}
        results["render_ratio_vs_" + backends[0]] = {b: r[backends[0]] / max(v, 1e-12) for b, v in r.items()}
    print(json.dumps(results, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
