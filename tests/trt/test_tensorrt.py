"""TensorRT engines: run only where tensorrt is importable and a CUDA device is visible; skip saying why."""
from __future__ import annotations

import pytest

from sdk.errors import MissingDependencyError
from trt_engines.cache import EngineCache
from trt_engines.onnx_export import ShapeProfile, export_onnx, parity
from trt_engines.tensorrt_backend import (TrtBuildConfig, build_engine, import_tensorrt, tensorrt_available)

from .nets import make_inputs, make_net

OK, WHY = tensorrt_available()
needs_trt = pytest.mark.skipif(not OK, reason=f"TensorRT tests need tensorrt + CUDA: {WHY}")


def test_missing_tensorrt_is_a_friendly_error():
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="pypi.nvidia.com"):
            import_tensorrt()
    else:
        pytest.skip("tensorrt is installed here: the missing-dependency error cannot be provoked")


@needs_trt
@pytest.mark.gpu
@pytest.mark.parametrize("precision,tol", [("fp32", 1e-3), ("fp16", 1e-2)])
def test_static_engine_parity_and_cuda_graph(tmp_path, precision, tol):
    from trt_engines.tensorrt_backend import TrtModule
    net, inp = make_net(), make_inputs()
    onnx_path = export_onnx(net, inp, tmp_path / "onnx")
    cfg = TrtBuildConfig(precision=precision, profiles=[ShapeProfile.from_inputs(inp)],
                         timing_cache=tmp_path / "timing.cache", workspace_gib=1)
    eng = build_engine(onnx_path, tmp_path / "model.plan", cfg)
    assert (tmp_path / "timing.cache").stat().st_size > 0
    m = TrtModule(eng, cuda_graphs=True)
    for seed in (3, 4):  # second call replays the captured graph with new values
        rep = parity(net, m, {k: v.cuda() for k, v in make_inputs(seed=seed).items()})
        assert rep.ok(tol), rep


@needs_trt
@pytest.mark.gpu
def test_dynamic_profile_and_refit(tmp_path):
    from trt_engines.tensorrt_backend import TrtModule
    net, inp = make_net(), make_inputs(batch=2)
    prof = ShapeProfile({"x": ((1, 4, 8, 8), (2, 4, 8, 8), (4, 4, 8, 8)), "t": ((1,), (2,), (4,)),
                         "ctx": ((1, 5, 8), (2, 5, 8), (4, 5, 8))})
    onnx_path = export_onnx(net, inp, tmp_path / "onnx", profile=prof)
    eng = build_engine(onnx_path, tmp_path / "m.plan",
                       TrtBuildConfig(precision="fp32", profiles=[prof], refittable=True, workspace_gib=1))
    m = TrtModule(eng, cuda_graphs=False)
    for b in (1, 3, 4):
        assert parity(net, m, {k: v.cuda() for k, v in make_inputs(batch=b).items()}).ok(1e-3)
    net2 = make_net(seed=42)
    onnx2 = export_onnx(net2, inp, tmp_path / "onnx2", profile=prof)
    m.refit_from_onnx(onnx2)
    assert parity(net2, m, {k: v.cuda() for k, v in make_inputs(batch=2).items()}).ok(1e-3)


@needs_trt
@pytest.mark.gpu
def test_select_tensorrt_through_cache(tmp_path):
    from trt_engines.select import select_backend
    net, inp = make_net().cuda(), {k: v.cuda() for k, v in make_inputs().items()}
    cache = EngineCache(tmp_path)
    run = select_backend(net, inp, model="toy", backend="tensorrt", precision="fp16", cache=cache)
    assert run.failed is None and len(cache.entries()) == 2  # onnx + engine
    assert parity(net.float(), run, inp).ok(1e-2)


@needs_trt
@pytest.mark.gpu
def test_static_buckets_with_dynamic_fallback(tmp_path):
    """One engine, profiles [batch 1, batch 2, 1..4]: buckets replay graphs, batch 3 takes the dynamic profile."""
    import torch

    from trt_engines.select import _union
    from trt_engines.tensorrt_backend import TrtModule
    net = make_net()
    b1, b2 = (ShapeProfile.from_inputs(make_inputs(batch=b)) for b in (1, 2))
    dyn = ShapeProfile({"x": ((1, 4, 8, 8), (2, 4, 8, 8), (4, 4, 8, 8)), "t": ((1,), (2,), (4,)),
                        "ctx": ((1, 5, 8), (2, 5, 8), (4, 5, 8))})
    onnx_path = export_onnx(net, make_inputs(batch=2), tmp_path / "onnx", profile=_union([b1, b2, dyn]))
    eng = build_engine(onnx_path, tmp_path / "m.plan",
                       TrtBuildConfig(precision="fp32", profiles=[b1, b2, dyn], workspace_gib=1))
    m = TrtModule(eng, cuda_graphs=True)
    for b in (1, 2, 3, 1):
        inp = {k: v.cuda() for k, v in make_inputs(batch=b, seed=b).items()}
        assert parity(net, m, inp).ok(1e-3), b
    assert len(m._graphs) == 2 and torch.cuda.is_available()
