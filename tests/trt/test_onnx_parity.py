"""ONNX export parity against PyTorch with ONNX Runtime on the CPU, fp32 and fp16."""
from __future__ import annotations

import pytest
import torch

from sdk.errors import InvalidInputError
from trt_engines.onnx_export import ShapeProfile, export_onnx, onnx_io, parity
from trt_engines.ort import OrtModule

from .nets import make_inputs, make_net


@pytest.mark.parametrize("two_outputs", [False, True])
def test_fp32_static_parity(tmp_path, two_outputs):
    net, inp = make_net(two_outputs=two_outputs), make_inputs()
    path = export_onnx(net, inp, tmp_path / "e")
    ins, outs = onnx_io(path)
    assert ins == ["x", "t", "ctx"] and len(outs) == (2 if two_outputs else 1)
    rep = parity(net, OrtModule(path, providers=["CPUExecutionProvider"]), make_inputs(seed=7))
    assert rep.ok(1e-5), rep  # float32 arithmetic vs the float64 reference
    assert max(rep.max_abs) < 1e-4


def test_fp16_parity(tmp_path):
    net, inp = make_net(), make_inputs()
    path = export_onnx(net, inp, tmp_path / "e16", precision="fp16")
    sess = OrtModule(path, providers=["CPUExecutionProvider"])
    assert sess.input_dtypes["x"] == torch.float16
    fresh = make_inputs(seed=11)
    rep = parity(net, sess, fresh)
    # half precision: ~1e-3 relative, far from the fp32 level but bounded
    assert rep.ok(1e-2), rep
    assert rep.rel_l2[0] > 1e-6  # really ran in half precision (fp32 lands near 1e-7)
    out = sess(**fresh)
    assert out.dtype == torch.float32  # cast back to the caller's dtype


def test_dynamic_profile_runs_other_shapes(tmp_path):
    net, inp = make_net(), make_inputs(batch=2, hw=8)
    prof = ShapeProfile({"x": ((1, 4, 8, 8), (2, 4, 8, 8), (4, 4, 16, 16)),
                         "t": ((1,), (2,), (4,)),
                         "ctx": ((1, 5, 8), (2, 5, 8), (4, 5, 8))})
    assert not prof.is_static and prof.dynamic_axes()["x"] == {0: "x_d0", 2: "x_d2", 3: "x_d3"}
    path = export_onnx(net, inp, tmp_path / "dyn", profile=prof)
    sess = OrtModule(path, providers=["CPUExecutionProvider"])
    for b, hw in [(1, 8), (3, 12), (4, 16)]:
        rep = parity(net, sess, make_inputs(batch=b, hw=hw, seed=b))
        assert rep.ok(1e-5), (b, hw, rep)


def test_static_export_rejects_other_shapes(tmp_path):
    net = make_net()
    path = export_onnx(net, make_inputs(batch=2), tmp_path / "s")
    sess = OrtModule(path, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="(?i)dimension|shape|Got invalid"):
        sess(**make_inputs(batch=3))


def test_call_signature_like_torch(tmp_path):
    net, inp = make_net(), make_inputs()
    sess = OrtModule(export_onnx(net, inp, tmp_path / "e"), providers=["CPUExecutionProvider"])
    a = sess(inp["x"], inp["t"], inp["ctx"])
    b = sess(inp["x"], ctx=inp["ctx"], t=inp["t"])
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(InvalidInputError, match="missing"):
        sess(inp["x"], inp["t"])
    with pytest.raises(InvalidInputError, match="twice"):
        sess(inp["x"], inp["t"], inp["ctx"], x=inp["x"])


def test_export_rejects_bad_inputs(tmp_path):
    net, inp = make_net(), make_inputs()
    with pytest.raises(InvalidInputError, match="not parameters"):
        export_onnx(net, {**inp, "bogus": inp["x"]}, tmp_path / "e")
    with pytest.raises(InvalidInputError, match="missing inputs"):
        export_onnx(net, {"x": inp["x"], "ctx": inp["ctx"]}, tmp_path / "e")
    with pytest.raises(InvalidInputError, match="fp32 or fp16"):
        export_onnx(net, inp, tmp_path / "e", precision="bf16")
    with pytest.raises(InvalidInputError, match="min <= opt <= max"):
        ShapeProfile({"x": ((2,), (1,), (3,))})
    assert not (tmp_path / "e").exists()  # nothing half-written
