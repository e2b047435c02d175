"""3DGS .ply and USD ParticleField3DGaussianSplat writers; mesh-sequence export of a 4D model."""
import numpy as np
import pytest

from sdk.core.gaussians import GaussianCloud, GaussianSequence


def _cloud(n=50, k=4, seed=0):
    r = np.random.default_rng(seed)
    q = r.normal(size=(n, 4))
    return GaussianCloud(r.normal(size=(n, 3)), q / np.linalg.norm(q, axis=1, keepdims=True), r.random((n, 3)) * .1 + .01,
                         r.random(n) * .9 + .05, r.normal(size=(n, k, 3)))


def test_splat_ply_round_trip(tmp_path):
    from exporters.splat_ply import read_splat_ply, write_splat_ply, write_splat_ply_sequence
    c = _cloud()
    p = write_splat_ply(c, tmp_path / "a.ply")
    head = p.read_bytes()[:2000].decode("ascii", "replace")
    assert "property float f_rest_8" in head and "property float f_rest_9" not in head and "rot_3" in head
    back = read_splat_ply(p)
    for a in ("means", "quats", "scales", "opacities", "sh"):
        assert np.allclose(getattr(back, a), getattr(c, a), atol=1e-5), a
    seq = GaussianSequence(np.stack([c.means, c.means + 1]), np.stack([c.quats] * 2), np.stack([c.scales] * 2),
                           c.opacities, c.sh)
    files = write_splat_ply_sequence(seq, tmp_path / "seq")
    assert len(files) == 2 and np.allclose(read_splat_ply(files[1]).means, c.means + 1, atol=1e-5)


def test_usd_particle_field_time_samples_validate(tmp_path):
    pytest.importorskip("pxr")
    from exporters.usd_splat import has_particle_field_schema, write_splats_usd
    from exporters.validate import validate_usd
    if not has_particle_field_schema():
        pytest.skip("this usd-core has no UsdVol.ParticleField3DGaussianSplat")
    from pxr import Usd
    c = _cloud(30, 9)
    seq = GaussianSequence(np.stack([c.means, c.means + 0.5, c.means + 1.0]), np.stack([c.quats] * 3),
                           np.stack([c.scales] * 3), c.opacities, c.sh, fps=12)
    p = write_splats_usd(seq, tmp_path / "splats.usda")
    assert validate_usd(p) == []
    stage = Usd.Stage.Open(str(p))
    prim = stage.GetPrimAtPath("/Splats/Gaussians")
    assert prim.GetTypeName() == "ParticleField3DGaussianSplat"
    pos = prim.GetAttribute("positions")
    assert pos.GetNumTimeSamples() == 3
    assert np.allclose(np.asarray(pos.Get(2)), c.means + 1.0, atol=1e-6)
    q = prim.GetAttribute("orientations").Get(0)[0]
    assert np.allclose([q.GetReal(), *q.GetImaginary()], c.quats[0], atol=1e-6)
    assert prim.GetAttribute("radiance:sphericalHarmonicsDegree").Get() == 2
    assert len(prim.GetAttribute("radiance:sphericalHarmonicsCoefficients").Get()) == 30 * 9
    assert stage.GetTimeCodesPerSecond() == 12


def test_model_to_mesh_and_gaussian_sequences():
    import torch
    from sdk.gs4d import Gaussians4D, canonical_from_mesh
    from sdk.gs4d.export import to_gaussian_sequence, to_mesh_sequence
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    f = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])
    m = Gaussians4D(canonical_from_mesh(v, f, 20), sh_degree=1, time_basis=2, spatial_resolution=4,
                    temporal_resolution=2, feature_dim=2, width=8)
    with torch.no_grad():
        m.field.pos[-1].bias.copy_(torch.tensor([0.1, 0.0, 0.0]))  # a global shift
    seq = to_mesh_sequence(m, 4, f, [0.0, 1.0], fps=10)
    assert seq.vertices.shape == (2, 4, 3) and seq.fps == 10
    assert np.allclose(seq.vertices, (v + [0.1, 0, 0])[None], atol=1e-3)  # every frame carries the shift
    gs = to_gaussian_sequence(m, [0.0, 0.5, 1.0])
    assert gs.means.shape == (3, m.n, 3) and gs.sh.shape == (3, m.n, 4, 3)  # 4D SH baked per frame
    gs.validate()
