import numpy as np
import torch
from scipy.spatial.transform import Rotation

from sdk.motionrig.transforms import _reference_kabsch, apply, fit_part_transforms, kabsch


def test_kabsch_matches_reference_batched():
    rng = np.random.default_rng(0)
    B, N = 16, 30
    p = rng.normal(size=(B, N, 3))
    r_true = Rotation.random(B, random_state=1).as_matrix()
    q = np.einsum("bij,bnj->bni", r_true, p) + rng.normal(size=(B, 1, 3)) + 0.01 * rng.normal(size=(B, N, 3))
    w = rng.uniform(0.1, 2.0, size=(B, N))
    r, t = kabsch(torch.as_tensor(p), torch.as_tensor(q), torch.as_tensor(w))
    for b in range(B):
        r_ref, t_ref = _reference_kabsch(p[b], q[b], w[b])
        np.testing.assert_allclose(r[b].numpy(), r_ref, atol=1e-9)
        np.testing.assert_allclose(t[b].numpy(), t_ref, atol=1e-9)
        assert abs(np.linalg.det(r[b].numpy()) - 1) < 1e-9


def test_kabsch_reflection_case_gives_rotation():
    # a planar point set mirrored: the best proper rotation, never a reflection
    p = torch.tensor([[1.0, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], dtype=torch.float64)
    q = p * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    r, _ = kabsch(p, q)
    assert abs(torch.linalg.det(r).item() - 1) < 1e-9


def test_fit_part_transforms_recovers_known_motion():
    rng = np.random.default_rng(2)
    N, T, P = 200, 7, 3
    x = rng.normal(size=(N, 3))
    lab = rng.integers(0, P, N)
    m = np.tile(np.eye(4), (P, T, 1, 1))
    m[:, :, :3, :3] = Rotation.random(P * T, random_state=3).as_matrix().reshape(P, T, 3, 3)
    m[:, :, :3, 3] = rng.normal(size=(P, T, 3))
    y = np.einsum("ntij,nj->tni", m[lab][:, :, :3, :3], x) + m[lab][:, :, :3, 3].transpose(1, 0, 2)
    fit = fit_part_transforms(torch.as_tensor(x), torch.as_tensor(y), torch.as_tensor(lab), P).numpy()
    np.testing.assert_allclose(fit, m, atol=1e-8)
    np.testing.assert_allclose(apply(torch.as_tensor(fit[0]), torch.as_tensor(x[lab == 0])[None]).numpy(),
                               y[:, lab == 0], atol=1e-8)
