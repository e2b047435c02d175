"""harmonic_solve's one-factorization packed solve against the block-by-block reference it replaced."""
import sys

import numpy as np
import pytest

from sdk.rigging.harmonic import _reference_harmonic_solve, _torch_impl_harmonic, free_band, harmonic_solve


def _tubes(jitter: float = 0.0):
    """Two disjoint bumpy tubes (several band pieces), labels [V]; ``jitter`` moves vertices at random along the
    axis (obtuse triangles: some negative cotangent edge weights, so clamping matters)."""
    def tube(na, nl, parts, z0):
        th = np.linspace(0, 2 * np.pi, na, endpoint=False)
        z = np.linspace(0, 6, nl)
        T, Z = np.meshgrid(th, z)
        r = 1.0 + 0.2 * np.sin(3 * T) * np.cos(Z)
        V = np.stack([r * np.cos(T) + z0, r * np.sin(T), Z], -1).reshape(-1, 3)
        i = np.arange(nl - 1)[:, None] * na
        j = np.arange(na)[None, :]
        a, b = i + j, i + (j + 1) % na
        F = np.concatenate([np.stack([a, b, b + na], -1).reshape(-1, 3), np.stack([a, b + na, a + na], -1).reshape(-1, 3)])
        return V, F, np.clip((Z.reshape(-1) / 6 * parts).astype(np.int64), 0, parts - 1)
    V1, F1, l1 = tube(14, 30, 4, 0.0)
    V2, F2, l2 = tube(9, 20, 3, 5.0)
    V = np.vstack([V1, V2])
    V[:, 2] += jitter * np.random.default_rng(3).uniform(-1, 1, len(V))
    return V, np.vstack([F1, F2 + len(V1)]), np.r_[l1, l2 + 4]


@pytest.mark.parametrize("clamp", [False, True])
def test_packed_solve_equals_reference(clamp):
    V, F, lab = _tubes(0.12 if clamp else 0.0)
    if clamp:
        from sdk.geometry.laplacian import cotangent_laplacian
        assert (cotangent_laplacian(V, F).tocoo().data > 0).sum() > len(V)  # positive off-diagonals: negative weights
    free = free_band(V, F, lab, 0.8)
    assert 0 < free.sum() < len(V)
    B = np.eye(lab.max() + 1)[lab]
    W = harmonic_solve(V, F, B, free, clamp_negative=clamp)
    Wr = _reference_harmonic_solve(V, F, B, free, clamp_negative=clamp)
    assert np.abs(W - Wr).max() < 1e-9
    assert np.array_equal(W[~free], B[~free])
    assert np.allclose(W.sum(1), 1.0, atol=1e-9)
    assert np.abs(W[free] - B[free]).max() > 0.1  # it really blends
    # values that do not sum to one (no partition-of-unity shortcut), an isolated fully free vertex (zero)
    rng = np.random.default_rng(0)
    B2 = rng.uniform(0, 2, B.shape) * (rng.uniform(size=B.shape) < 0.5)
    free2 = free.copy()
    W2 = harmonic_solve(np.vstack([V, [[50, 0, 0]]]), F, np.vstack([B2, np.ones((1, B.shape[1]))]), np.r_[free2, True],
                        clamp_negative=clamp)
    assert np.abs(W2[:-1] - _reference_harmonic_solve(V, F, B2, free2, clamp_negative=clamp)).max() < 1e-9
    assert np.array_equal(W2[-1], np.zeros(B.shape[1]))
    if not clamp:
        assert np.abs(W2[:-1] - _torch_impl_harmonic(V, F, B2, free2)).max() < 1e-9


def test_scipy_fallback_without_qdldl(monkeypatch):
    V, F, lab = _tubes()
    free = free_band(V, F, lab, 0.8)
    B = np.eye(lab.max() + 1)[lab]
    W = harmonic_solve(V, F, B, free)
    monkeypatch.setitem(sys.modules, "qdldl", None)  # import qdldl -> ImportError
    W2 = harmonic_solve(V, F, B, free)
    assert np.abs(W - W2).max() < 1e-10
    assert np.abs(W2 - _reference_harmonic_solve(V, F, B, free)).max() < 1e-10


@pytest.mark.parametrize("clamp", [False, True])
def test_compiled_assembly_equals_numpy_assembly(monkeypatch, clamp):
    import sdk.rigging.harmonic as H
    monkeypatch.setenv("ARTICULATE_NUMBA", "1")
    if H._numba_kernel() is None:
        pytest.skip("numba not installed: only the numpy/scipy assembly exists")
    V, F, lab = _tubes(0.12)
    free = free_band(V, F, lab, 0.8)
    B = np.eye(lab.max() + 1)[lab]
    W1 = harmonic_solve(V, F, B, free, clamp_negative=clamp)
    monkeypatch.setenv("ARTICULATE_NUMBA", "0")
    W2 = harmonic_solve(V, F, B, free, clamp_negative=clamp)
    assert np.abs(W1 - W2).max() < 1e-12


def test_numba_switch_of_the_assembly(monkeypatch):
    import sdk.rigging.harmonic as H
    monkeypatch.setenv("ARTICULATE_NUMBA", "0")
    assert H._numba_kernel() is None
    monkeypatch.setenv("ARTICULATE_NUMBA", "")  # default: only if numba is already loaded
    monkeypatch.delitem(sys.modules, "numba", raising=False)
    assert H._numba_kernel() is None
