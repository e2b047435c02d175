"""Micro-benchmarks at the SP4D UNet's own shapes (used by bench_unet_compile.py --micro; GPU only).

* SDPA kernels (flash, cuDNN, memory-efficient) on q/k/v laid out exactly as diffusers' fused-projection
  processor makes them (slices of one [B, L, 3C] tensor, viewed [B, H, L, 64]), at the view-attention,
  spatial-attention and temporal-attention shapes of levels 0 and 1 (batch 2); which kernel PyTorch picks
  by default; the order that minimises the summed time (``sdpa_order``) for the *_opt modes.
* GEMMs: the feed-forward and q/k/v shapes in fp16 (cuBLAS) against e4m3 ``torch._scaled_mm`` (row-wise
  scales) with and without the activation quantization pass.
* Convolutions: the level-0 3x3 conv and the (3,1,1) temporal conv, NCHW/NCDHW against channels-last.
"""
from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F


def _time(fn, iters=5, warmup=2) -> float:
    for _ in range(warmup):
        fn()
    if not torch.cuda.is_available():  # CPU smoke test of this module
        import time
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        return (time.perf_counter() - t0) / iters * 1e3
    torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)  # ms


def attention_shapes(cfg, batch: int = 2) -> dict:
    """name -> (B, H, Lq, Lkv, D, calls per forward) for the attention calls of levels 0 and 1 (self-attention,
    and the cross-attention to the one-token image context: Lkv = 1)."""
    v, t, s = cfg.num_views, cfg.num_frames, cfg.latent_size
    n_tr = 2 * (cfg.num_res_blocks + cfg.num_res_blocks + 1)  # transformers per level, both branches
    d = cfg.num_head_channels
    out = {}
    for level in cfg.attention_levels[:2]:
        c = cfg.model_channels * cfg.channel_mult[level]
        h = c // d
        hw = (s // 2 ** level) ** 2
        out[f"view_L{level}"] = (batch * t, h, v * hw, v * hw, d, n_tr)
        out[f"spatial_L{level}"] = (batch * v * t, h, hw, hw, d, n_tr)
        out[f"temporal_L{level}"] = (batch * v * hw, h, t, t, d, n_tr)
        out[f"cross_view_L{level}"] = (batch * t, h, v * hw, 1, d, n_tr)
        out[f"cross_spatial_L{level}"] = (batch * v * t, h, hw, 1, d, n_tr)
        out[f"cross_temporal_L{level}"] = (batch * v * hw, h, t, 1, d, n_tr)
    return out


def run_micro(device, cfg, log=print) -> dict:
    from trt_engines.optimize import best_sdpa_order, sdpa_choice, sdpa_context
    res: dict = {"sdpa": {}, "gemm": {}, "conv": {}}
    backends = ("FLASH_ATTENTION", "CUDNN_ATTENTION", "EFFICIENT_ATTENTION")
    totals = {b: 0.0 for b in backends}
    for name, (B, H, L, Lk, D, calls) in attention_shapes(cfg).items():
        g = torch.Generator(device=device).manual_seed(0)
        if Lk == L:  # self-attention: slices of one fused q/k/v projection
            qkv = torch.randn(B, L, 3 * H * D, device=device, dtype=torch.float16, generator=g)
            q, k, v = (x.view(B, L, H, D).transpose(1, 2) for x in qkv.split(H * D, -1))
        else:        # cross-attention: q from the tokens, k/v slices of the fused context projection
            qkv = torch.randn(B, L, H * D, device=device, dtype=torch.float16, generator=g)
            kv = torch.randn(B, Lk, 2 * H * D, device=device, dtype=torch.float16, generator=g)
            q = qkv.view(B, L, H, D).transpose(1, 2)
            k, v = (x.view(B, Lk, H, D).transpose(1, 2) for x in kv.split(H * D, -1))
        flop = 4 * B * H * L * Lk * D
        row = {"shape": [B, H, L, Lk, D], "calls": calls, "default": sdpa_choice(q, k, v)}
        ref = None
        for be in backends:
            try:
                with sdpa_context((be,)):
                    o = F.scaled_dot_product_attention(q, k, v)
                    ms = _time(lambda: F.scaled_dot_product_attention(q, k, v))
                if ref is None:
                    ref = o.float()
                err = float((o.float() - ref).norm() / ref.norm())
                row[be] = {"ms": ms, "tflops": flop / ms / 1e9, "rel_err_vs_first": err}
                totals[be] += ms * calls
            except Exception as e:  # noqa: BLE001 - a kernel that declines these shapes
                row[be] = {"error": f"{type(e).__name__}: {str(e)[:120]}"}
                totals[be] = float("inf")
        res["sdpa"][name] = row
        log(f"# sdpa {name} {row}")
        del qkv, q, k, v, ref
    res["sdpa_total_ms"] = totals
    res["sdpa_order"] = best_sdpa_order(res["sdpa"], backends)
    log(f"# sdpa summed ms per forward by backend {totals} -> order {res.get('sdpa_order')}")

    from trt_engines.fp8 import quantize_rowwise
    s0 = cfg.latent_size ** 2
    c0 = cfg.model_channels
    m0 = 2 * cfg.num_views * cfg.num_frames * s0
    for name, (M, K, N) in {"ff1_L0": (m0, c0, 8 * c0), "ff2_L0": (m0, 4 * c0, c0), "qkv_L0": (m0, c0, 3 * c0),
                            "ff1_L1": (m0 // 4, 2 * c0, 16 * c0), "ff2_L1": (m0 // 4, 8 * c0, 2 * c0)}.items():
        x = torch.randn(M, K, device=device, dtype=torch.float16)
        w = torch.randn(N, K, device=device, dtype=torch.float16) / K ** 0.5
        flop = 2 * M * K * N
        r = {"shape": [M, K, N], "fp16_ms": _time(lambda: F.linear(x, w))}
        try:
            qx, sx = quantize_rowwise(x)
            qw, sw = quantize_rowwise(w)
            mmf = lambda: torch._scaled_mm(qx, qw.t(), scale_a=sx, scale_b=sw.reshape(1, -1),  # noqa: E731
                                           out_dtype=torch.bfloat16)
            r["fp8_mm_ms"] = _time(mmf)

            def qmm():
                q, sq = quantize_rowwise(x)
                return torch._scaled_mm(q, qw.t(), scale_a=sq, scale_b=sw.reshape(1, -1), out_dtype=torch.bfloat16)
            r["fp8_quant_plus_mm_ms"] = _time(qmm)
            y, ref = mmf().float(), F.linear(x.float(), w.float())
            r["fp8_rel_err"] = float((y - ref).norm() / ref.norm())
        except Exception as e:  # noqa: BLE001
            r["fp8_error"] = f"{type(e).__name__}: {str(e)[:160]}"
        for k in [k for k in r if k.endswith("_ms")]:
            r[k.replace("_ms", "_tflops")] = flop / r[k] / 1e9
        res["gemm"][name] = r
        log(f"# gemm {name} {r}")
        del x, w
    n0 = cfg.num_views * cfg.num_frames * 2
    x = torch.randn(n0, c0, cfg.latent_size, cfg.latent_size, device=device, dtype=torch.float16)
    conv = torch.nn.Conv2d(c0, c0, 3, padding=1).to(device, torch.float16)
    flop = 2 * n0 * s0 * c0 * c0 * 9
    with torch.no_grad():
        r = {"nchw_ms": _time(lambda: conv(x))}
        conv.to(memory_format=torch.channels_last)
        xl = x.contiguous(memory_format=torch.channels_last)
        r["nhwc_ms"] = _time(lambda: conv(xl))
        for k in list(r):
            r[k.replace("_ms", "_tflops")] = flop / r[k] / 1e9
        res["conv"]["conv3x3_L0"] = r
        log(f"# conv 3x3 L0 {r}")
        x5 = x.reshape(2 * cfg.num_views, cfg.num_frames, c0, cfg.latent_size, cfg.latent_size).permute(0, 2, 1, 3, 4)
        conv3 = torch.nn.Conv3d(c0, c0, (3, 1, 1), padding=(1, 0, 0)).to(device, torch.float16)
        x5c = x5.contiguous()
        r = {"ncdhw_ms": _time(lambda: conv3(x5c))}
        conv3.weight.data = conv3.weight.data.contiguous(memory_format=torch.channels_last_3d)
        x5l = xl.reshape(2 * cfg.num_views, cfg.num_frames, c0, cfg.latent_size, cfg.latent_size).permute(0, 2, 1, 3, 4)
        r["ndhwc_ms"] = _time(lambda: conv3(x5l))
        flop3 = 2 * n0 * s0 * c0 * c0 * 3
        for k in list(r):
            r[k.replace("_ms", "_tflops")] = flop3 / r[k] / 1e9
        res["conv"]["conv311_L0"] = r
        log(f"# conv (3,1,1) L0 {r}")
    del x, xl, x5c
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return res
