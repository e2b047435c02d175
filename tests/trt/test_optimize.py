"""Inference rewrites (trt_engines.optimize) and fp8 linears (trt_engines.fp8) against the eager reference, CPU.

The GPU speed of these paths is measured by bench/bench_unet_compile.py (docs/compile.md); here: the same
function on the tiny SP4D config, the fp8 quantization error bounded from both sides (it really quantized, and
not by more than e4m3 allows), calibration, the SDPA order choice and the validation of the config.
"""
from __future__ import annotations

import copy

import pytest
import torch

pytest.importorskip("diffusers", reason="SP4D networks are built on diffusers blocks")

from sdk.errors import InvalidInputError  # noqa: E402
from sdk.models.sp4d.unet import SP4DConfig, SP4DUNet, SpatialVideoTransformer3D  # noqa: E402
from trt_engines.compiled import CompiledModule  # noqa: E402
from trt_engines.fp8 import (E4M3_MAX, Fp8Linear, calibrate_fp8, needs_calibration, quantize_linears_,  # noqa: E402
                             quantize_rowwise, quantize_tensorwise)
from trt_engines.optimize import OptimizeConfig, best_sdpa_order, optimize_, sdpa_choice  # noqa: E402


def _rel(a, b):
    return float((a.detach().float() - b.detach().float()).norm() / b.detach().float().norm())


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    net = SP4DUNet(SP4DConfig.tiny()).eval()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # BiDiFuse starts as the identity (zero last conv): perturb so fusion is exercised
        for p in net.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    ex = net.example_inputs(batch=2)
    with torch.no_grad():
        ref = net(*ex)
    return net, ex, ref


def _fresh_inputs(net, seed):
    ex = list(net.example_inputs(batch=2))
    g = torch.Generator().manual_seed(seed)
    for i in (0, 2, 3):
        ex[i] = torch.randn(ex[i].shape, generator=g)
    return ex


def _fp8_cfg(scaling="static"):
    # the tiny config's linears are 32..256 wide: lower the size gates so they are quantized
    return OptimizeConfig(fp8_linear=True, fp8_min_features=16, fp8_min_rows=8, fp8_scaling=scaling,
                          fp8_within=(SpatialVideoTransformer3D,), fp8_skip=("_embed",))


def test_layout_and_fused_projections_compute_the_same_function(tiny):
    net, ex, ref = tiny
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cm = CompiledModule(copy.deepcopy(net), precision="fp32", compile=False, cuda_graphs=False,
                        optimize=OptimizeConfig(sdpa_backends=("EFFICIENT_ATTENTION", "MATH")))
    rep = cm.optimized
    assert rep.convs_channels_last > 0 and rep.fused_attention > 0 and rep.fp8_linears == ()
    attn = [m for m in cm.module.modules() if type(m).__name__ == "Attention"]
    assert attn and all(m.fused_projections for m in attn)
    assert any(m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in cm.module.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape[-1] > 1)
    out = cm(*ex)
    assert _rel(out, ref) < 1e-5
    # the source network (checkpoint layout) is untouched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_quantize_rowwise_error_and_saturation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 48, generator=g) * torch.logspace(-3, 3, 64)[:, None]
    q, s = quantize_rowwise(x)
    assert q.dtype == torch.float8_e4m3fn and s.shape == (64, 1)
    back = q.float() * s
    # e4m3 keeps 3 mantissa bits: relative rounding <= 2^-4 for values in the normal range of each row
    normal = x.abs() > s * 2 ** -6
    assert ((back - x).abs()[normal] <= 2 ** -4 * x.abs()[normal] + 1e-12).all()
    assert (back - x).abs().max() > 0  # it did round
    big = quantize_tensorwise(torch.tensor([1e6, -1e6, 1.0]), torch.tensor(1.0)).float()
    assert torch.equal(big, torch.tensor([E4M3_MAX, -E4M3_MAX, 1.0]))  # saturates, never NaN


@pytest.mark.parametrize("scaling", ["dynamic", "static"])
def test_fp8_linear_paths_agree_and_bound_the_error(scaling):
    g = torch.Generator().manual_seed(1)
    lin = torch.nn.Linear(64, 96)
    x = torch.randn(4, 40, 64, generator=g)
    f = Fp8Linear.from_linear(lin, scaling=scaling, min_rows=8)
    if scaling == "static":
        with pytest.raises(RuntimeError, match="calibrate"):
            f(x)
        assert calibrate_fp8(f, lambda: f(torch.randn(4, 40, 64, generator=g))) == 1 and f.calibrated
    exact = lin(x)
    emul = f(x)  # CPU: the dequantized reference
    err = _rel(emul, exact)
    assert 1e-4 < err < 0.08, err  # quantized, within what e4m3 on both operands gives
    try:
        f.use_scaled_mm = True
        fast = f(x)  # torch._scaled_mm (runs on CPU in recent torch; the CUDA kernel on the GPU)
    except (RuntimeError, NotImplementedError) as e:
        pytest.skip(f"torch._scaled_mm is not available on this CPU build: {e}")
    assert fast.shape == exact.shape and fast.dtype == exact.dtype
    assert _rel(fast, emul) < 1e-2  # same quantized function; bf16 output rounding


def test_fp8_small_calls_use_the_dequantized_weight():
    lin = torch.nn.Linear(32, 32)
    f = Fp8Linear.from_linear(lin, scaling="static", min_rows=1024)  # few rows: no calibration needed
    x = torch.randn(3, 32)
    assert torch.allclose(f(x), x @ f.dequantized_weight(x.dtype).t() + lin.bias, atol=1e-6)


@pytest.mark.parametrize("scaling", ["static", "dynamic"])
def test_tiny_sp4d_fp8_against_eager(tiny, scaling):
    net, ex, ref = tiny
    cm = CompiledModule(copy.deepcopy(net), precision="fp32", compile=False, cuda_graphs=False,
                        optimize=_fp8_cfg(scaling))
    names = cm.optimized.fp8_linears
    assert names and all("transformer" in n or "mix" in n or "motion" in n or "proj" in n for n in names)
    assert not any("_embed" in n for n in names)
    if scaling == "static":
        assert needs_calibration(cm.module)
        assert cm.calibrate(*_fresh_inputs(net, 11)) == len(names)  # another draw than the measured one
        assert not needs_calibration(cm.module)
    out = cm(*ex)
    err = _rel(out, ref)
    assert torch.isfinite(out).all() and 1e-4 < err < 0.15, err


def test_static_fp8_calibrates_on_first_call_when_not_told(tiny):
    net, ex, _ = tiny
    cm = CompiledModule(copy.deepcopy(net), precision="fp32", compile=False, cuda_graphs=False,
                        optimize=_fp8_cfg("static"))
    out = cm(*ex)
    assert torch.isfinite(out).all() and not needs_calibration(cm.module)


def test_quantize_linears_respects_within_and_skip():
    net = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.Sequential(torch.nn.Linear(32, 48)),
                              torch.nn.Linear(20, 32))
    names = quantize_linears_(net, min_features=16, skip=lambda n: n == "0")
    assert names == ["1.0"]  # "0" skipped, "2" not a multiple of 16
    assert isinstance(net[1][0], Fp8Linear) and isinstance(net[0], torch.nn.Linear)


def test_sdpa_order_simulates_dispatch():
    timings = {  # cuDNN fastest on long self-attention, declines the one-key cross-attention
        "self": {"calls": 10, "CUDNN_ATTENTION": {"ms": 3.0}, "FLASH_ATTENTION": {"ms": 4.0},
                 "EFFICIENT_ATTENTION": {"ms": 9.0}},
        "cross": {"calls": 10, "CUDNN_ATTENTION": {"error": "declined"}, "FLASH_ATTENTION": {"ms": 0.5},
                  "EFFICIENT_ATTENTION": {"ms": 0.2}},
    }
    assert best_sdpa_order(timings, ("FLASH_ATTENTION", "CUDNN_ATTENTION", "EFFICIENT_ATTENTION")) == \
        ["CUDNN_ATTENTION", "EFFICIENT_ATTENTION", "FLASH_ATTENTION", "MATH"]
    q = torch.randn(1, 2, 8, 16)
    assert sdpa_choice(q, q, q, ("MATH",)) == "MATH"


def test_config_validation():
    with pytest.raises(InvalidInputError, match="sdpa_backends"):
        OptimizeConfig(sdpa_backends=("FLASH",))
    with pytest.raises(InvalidInputError, match="fp8_scaling"):
        OptimizeConfig(fp8_scaling="per-block")
    net = torch.nn.Linear(8, 8)
    rep = optimize_(net, OptimizeConfig())
    assert rep.convs_channels_last == 0 and rep.fused_attention == 0
