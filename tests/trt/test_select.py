"""Backend selection by configuration, eager fallback with a warning, and the torch.compile backend."""
from __future__ import annotations

import warnings

import pytest
import torch

from sdk.config import settings
from sdk.errors import InvalidInputError
from trt_engines.cache import EngineCache
from trt_engines.compiled import CompiledModule, bucket_key
from trt_engines.ort import OrtModule
from trt_engines.select import BackendFallbackWarning, select_backend
from trt_engines.tensorrt_backend import tensorrt_available

from .nets import make_inputs, make_net


@pytest.fixture
def backend_setting():
    old = settings.backend
    yield
    settings.backend = old


def _ref(net, inp):
    with torch.no_grad():
        return net(**inp)


def test_settings_backend_onnxruntime_is_used(tmp_path, backend_setting):
    net, inp = make_net(), make_inputs()
    ref = _ref(net, inp)
    settings.backend = "onnxruntime"
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)  # must not fall back
        run = select_backend(net, inp, model="toy", cache=EngineCache(tmp_path), precision="fp32")
    assert isinstance(run.compiled, OrtModule)
    torch.testing.assert_close(run(**inp), ref, rtol=1e-4, atol=1e-5)
    assert run.failed is None


def test_tensorrt_unavailable_falls_back_to_eager_with_warning(tmp_path, backend_setting):
    ok, why = tensorrt_available()
    if ok:
        pytest.skip(f"tensorrt is usable here ({why}): the fallback path is not reachable")
    net, inp = make_net(), make_inputs()
    ref = _ref(net, inp)
    settings.backend = "tensorrt"
    with pytest.warns(BackendFallbackWarning, match="tensorrt"):
        run = select_backend(net, inp, model="toy", cache=EngineCache(tmp_path), precision="fp32")
    assert isinstance(run, CompiledModule) and not run.compiled and not run.cuda_graphs
    torch.testing.assert_close(run(**inp), ref, rtol=0, atol=0)  # eager fp32 is the module itself
    assert not (tmp_path / "tensorrt").exists()  # nothing built


def test_runtime_failure_falls_back_once(tmp_path):
    """An ONNX Runtime session whose model file vanished mid-run... is still loaded; instead break the graph:
    a session built for batch 2 cannot take batch 3 -> backend error -> warning -> eager for good."""
    net, inp = make_net(), make_inputs(batch=2)
    run = select_backend(net, inp, model="toy", backend="onnxruntime", precision="fp32",
                         cache=EngineCache(tmp_path))
    other = make_inputs(batch=3)
    with pytest.warns(BackendFallbackWarning, match="failed at run time"):
        out = run(**other)
    torch.testing.assert_close(out, _ref(net, other), rtol=1e-5, atol=1e-6)
    assert run.failed is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        run(**other)  # warned once only


def test_configuration_errors_raise(tmp_path):
    net, inp = make_net(), make_inputs()
    with pytest.raises(InvalidInputError, match="unknown backend"):
        select_backend(net, inp, model="toy", backend="tensorrtt")
    with pytest.raises(InvalidInputError, match="unknown precision"):
        select_backend(net, inp, model="toy", backend="eager", precision="int3")
    with pytest.raises(InvalidInputError, match="fp8"):
        select_backend(net, inp, model="toy", backend="onnxruntime", precision="fp8")


def test_eager_precision_casts_and_returns_caller_dtype():
    net, inp = make_net(), make_inputs()
    ref = _ref(net, inp)
    run = select_backend(net, inp, model="toy", backend="eager", precision="bf16")
    out = run(**inp)
    assert out.dtype == torch.float32 and next(run.module.parameters()).dtype == torch.bfloat16
    rel = (out - ref).norm() / ref.norm()
    assert 1e-5 < rel < 3e-2  # bf16 arithmetic: visibly not fp32, still the same function


def test_torch_compile_cpu_matches_eager():
    """Inductor on the CPU (C++ codegen); CUDA graphs need a GPU and are tested below."""
    net, inp = make_net(), make_inputs()
    ref = _ref(net, inp)
    cm = CompiledModule(net, precision="fp32")
    assert not cm.cuda_graphs
    try:
        out = cm(**inp)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"inductor cannot compile on this CPU machine: {type(e).__name__}: {e}")
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    other = make_inputs(seed=5)
    torch.testing.assert_close(cm(**other), _ref(net, other), rtol=1e-4, atol=1e-5)


def test_bucket_key_distinguishes_shapes():
    a, b = make_inputs(batch=1), make_inputs(batch=2)
    assert bucket_key(a) != bucket_key(b) and bucket_key(a) == bucket_key(make_inputs(batch=1, seed=9))


@pytest.mark.gpu
@pytest.mark.parametrize("compile_", [False, True])
def test_cuda_graph_buckets_replay_fresh_inputs(compile_):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: CUDA-graph capture cannot run on this machine")
    net = make_net().cuda()
    ref_net = make_net().cuda()
    cm = CompiledModule(net, precision="fp32", compile=compile_)
    for batch in (1, 2, 1, 2):
        inp = {k: v.cuda() for k, v in make_inputs(batch=batch, seed=batch * 13 + compile_).items()}
        out = cm(**inp)
        ref = _ref(ref_net, inp)
        # cuDNN may use TF32 for the convolutions in both paths: compare by relative L2 error
        assert float((out - ref).norm() / ref.norm()) < 2e-3
    assert cm.num_graphs == 2


def test_lazy_backend_for_pipelines(tmp_path, backend_setting):
    from trt_engines.select import LazyBackend
    net = make_net()
    lazy = LazyBackend(net, model="toy", cache=EngineCache(tmp_path), precision="fp32")
    settings.backend = "eager"
    a = make_inputs(batch=1)
    torch.testing.assert_close(lazy(a["x"], a["t"], a["ctx"]), _ref(net, a), rtol=0, atol=0)
    settings.backend = "onnxruntime"  # read at call time: a pipeline follows the configuration
    for batch in (1, 2, 1):
        inp = make_inputs(batch=batch, seed=batch)
        torch.testing.assert_close(lazy(inp["x"], inp["t"], ctx=inp["ctx"]), _ref(net, inp), rtol=1e-4, atol=1e-5)
    assert lazy.num_built == 3  # eager + one ONNX engine per batch bucket
    assert len(EngineCache(tmp_path).entries()) == 2
