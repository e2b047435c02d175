"""The compiled / batched fast paths of rig from motion against their reference implementations."""
import importlib.util

import numpy as np
import pytest
import torch

from sdk.motionrig.pipeline import replay_rig, rig_from_motion
from sdk.motionrig.ssdr import _numba_kernels, _reference_simplex_qp, simplex_qp

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="numba not installed: only the torch reference path exists")


@needs_numba
def test_compiled_simplex_qp_equals_reference():
    assert _numba_kernels() is not None
    g_ = torch.Generator().manual_seed(0)
    n, C = 300, 8
    A = torch.randn(n, C, 12, dtype=torch.float64, generator=g_)
    g = A @ A.transpose(1, 2)
    g[:5] = g[:5] * 0 + torch.eye(C, dtype=torch.float64)  # well separated start: rows that freeze at once
    h = torch.randn(n, C, dtype=torch.float64, generator=g_) * 0.1
    mask = torch.rand(n, C, generator=g_) > 0.3
    mask[:, 0] = True
    w0 = torch.where(mask, torch.rand(n, C, dtype=torch.float64, generator=g_), torch.zeros((), dtype=torch.float64))
    w0 = w0 / w0.sum(1, keepdim=True)
    for iters in (3, 40):
        a = simplex_qp(g, h, w0, mask, iters)
        b = _reference_simplex_qp(g, h, w0, mask, iters)
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
    assert (a[~mask] == 0).all() and torch.allclose(a.sum(1), torch.ones(n, dtype=torch.float64))
    assert (a - w0).abs().max() > 1e-3  # it moved


def _seq(arm):
    from sdk.motionrig import MeshSequence
    return MeshSequence(arm["vertices"], arm["faces"], arm["fps"], "arm")


@needs_numba
def test_rig_from_motion_fast_equals_torch_reference(arm):
    rig_a, rep_a = rig_from_motion(_seq(arm), backend="auto")
    rig_b, rep_b = rig_from_motion(_seq(arm), backend="torch")
    # the compiled transform step accumulates in float64 (the torch path in float32): equal up to round-off
    assert rig_a.skeleton.n_joints == rig_b.skeleton.n_joints
    dense = lambda r: r.skin.to_dense(r.skeleton.n_joints)
    assert np.abs(dense(rig_a) - dense(rig_b)).max() < 1e-3
    assert np.array_equal(rig_a.parts.labels, rig_b.parts.labels)
    assert abs(rep_a["rmse_pct"] - rep_b["rmse_pct"]) < 1e-3 * rep_b["rmse_pct"]
    assert len(rep_a["ssdr_rmse_history"]) == len(rep_b["ssdr_rmse_history"])
    h = np.asarray(rep_a["ssdr_rmse_history"][:2 * 4 + 1])  # the first SSDR run (4 iterations): never worse
    assert np.all(np.diff(h) <= 1e-6 * h[0])


def test_report_replay_is_the_rig_replay(arm, arm_rig):
    rig, rep = arm_rig
    ref = rig.animate()
    assert np.abs(replay_rig(rig) - ref).max() < 1e-9
    err = np.linalg.norm(ref - arm["vertices"], axis=-1)
    assert np.allclose(rep["per_frame_rmse"], np.sqrt((err ** 2).mean(1)), rtol=1e-9, atol=1e-12)
    assert rep["rmse"] > 0


def test_articulate_numba_0_selects_the_torch_path(monkeypatch):
    import sdk.motionrig.ssdr as S
    monkeypatch.setattr(S, "_KERNELS", [])
    monkeypatch.setenv("ARTICULATE_NUMBA", "0")
    assert S._numba_kernels() is None
