import numpy as np
import pytest
import torch

from sdk.core import SkinWeights
from sdk.rigging.lbs import _torch_impl_dense, linear_blend_skinning


def _random_dense(V=200, J=12, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.random((V, J)) ** 4
    return w / w.sum(1, keepdims=True)


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_topk_renormalized_and_sorted(k):
    w = _random_dense()
    s = SkinWeights.from_dense(w, k)
    assert s.max_influences == k
    assert np.allclose(s.weights.sum(1), 1, atol=1e-6)
    assert (np.diff(s.weights, axis=1) <= 1e-7).all()
    # the kept joints are the k largest
    kth = -np.sort(-w, 1)[:, k - 1]
    assert (np.take_along_axis(w, s.indices, 1)[s.weights > 0] >= np.repeat(kth, k)[s.weights.ravel() > 0] - 1e-12).all()


@pytest.mark.parametrize("bits", [8, 16])
def test_quantization_keeps_exact_unit_sums(bits):
    s = SkinWeights.from_dense(_random_dense(1000, 20, 1), 4)
    q = s.quantize(bits)
    levels = np.round(q.weights.astype(np.float64) * ((1 << bits) - 1)).astype(np.int64)
    assert (levels.sum(1) == (1 << bits) - 1).all()
    assert np.abs(q.weights - s.weights).max() <= 1.0 / ((1 << bits) - 1)


def test_sparse_lbs_matches_dense_reference_and_is_differentiable():
    torch.manual_seed(0)
    V, J = 100, 6
    w = _random_dense(V, J)
    s = SkinWeights.from_dense(w, J)
    verts = torch.randn(V, 3, dtype=torch.float64)
    M = torch.eye(4, dtype=torch.float64).repeat(2, J, 1, 1)
    M[..., :3, :] += 0.1 * torch.randn(2, J, 3, 4, dtype=torch.float64)
    M.requires_grad_(True)
    out = linear_blend_skinning(verts, M, torch.as_tensor(s.indices), torch.as_tensor(s.weights, dtype=torch.float64))
    ref = _torch_impl_dense(verts, M, torch.as_tensor(s.to_dense(J)))
    assert out.shape == (2, V, 3)
    assert torch.allclose(out, ref, atol=1e-5)
    out.sum().backward()
    assert M.grad is not None and torch.isfinite(M.grad).all() and M.grad.abs().sum() > 0


def test_identity_pose_is_rest():
    w = _random_dense(50, 5)
    s = SkinWeights.from_dense(w, 4)
    v = torch.randn(50, 3, dtype=torch.float64)
    out = linear_blend_skinning(v, torch.eye(4, dtype=torch.float64).repeat(5, 1, 1), torch.as_tensor(s.indices),
                                torch.as_tensor(s.weights))
    assert torch.allclose(out, v, atol=1e-6)
