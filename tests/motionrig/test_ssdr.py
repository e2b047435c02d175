import numpy as np
import torch

from sdk.motionrig import MeshSequence
from sdk.motionrig.parts import PartsConfig, kinematic_parts
from sdk.motionrig.ssdr import SSDRConfig, project_simplex, ssdr
from sdk.motionrig.transforms import fit_part_transforms


def test_project_simplex_properties():
    z = torch.randn(500, 6, dtype=torch.float64)
    w = project_simplex(z)
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(-1).numpy(), 1, atol=1e-12)
    mask = torch.rand(500, 6) > 0.3
    mask[:, 0] = True
    wm = project_simplex(z, mask)
    assert (wm[~mask] == 0).all()
    np.testing.assert_allclose(wm.sum(-1).numpy(), 1, atol=1e-12)
    # projection is the closest simplex point: no random simplex point is closer
    r = torch.distributions.Dirichlet(torch.ones(6, dtype=torch.float64)).sample((500,))
    assert (((w - z) ** 2).sum(-1) <= ((r - z) ** 2).sum(-1) + 1e-12).all()


def test_ssdr_error_decreases_monotonically_and_weights_are_valid(arm):
    # start from hard rigid parts (the true segments): the blended joints leave error only weights can remove
    X = arm["vertices"]
    lab = arm["labels"]
    m0 = fit_part_transforms(torch.as_tensor(X[0]), torch.as_tensor(X), torch.as_tensor(lab), 3).numpy()
    res = ssdr(X[0], X, m0, labels=lab, config=SSDRConfig(iterations=6, max_influences=3))
    h = np.array(res.rmse_history)
    assert len(h) == 13
    assert (np.diff(h) <= 1e-7 * h[0] + 1e-12).all(), h
    assert h[-1] < 0.5 * h[0]  # the blended joints need weights: hard rigid parts leave real error
    assert res.weights.shape[1] == 3
    assert (res.weights >= 0).all()
    np.testing.assert_allclose(res.weights.sum(1), 1, atol=1e-5)
    assert res.indices.max() < 3


def test_ssdr_from_over_segmentation_is_monotone(arm):
    seq = MeshSequence(arm["vertices"], arm["faces"], 30.0)
    kp = kinematic_parts(seq, PartsConfig(merge_tol=0.002))
    X = seq.vertices[:, kp.weld_rep]
    h = np.array(ssdr(X[0], X, kp.transforms, labels=kp.welded_labels, config=SSDRConfig(iterations=4)).rmse_history)
    assert (np.diff(h) <= 1e-7 * h[0] + 1e-12).all(), h
