import math

import numpy as np
import pytest
import torch

from sdk.procedural import CATEGORIES, box_mesh, generate
from sdk.render import orbit_cameras, project, rasterize, render_mesh


def test_box_depth_and_coverage_match_geometry():
    v, f = box_mesh((1, 1, 1), (0, 0, 0))
    cams = orbit_cameras([0.0], [0.0], radius=3.0, fov_deg=40, width=65)
    frag = rasterize(v, f, cams)
    # the centre pixel sees the front face at distance 2.5
    assert abs(float(frag.depth[0, 32, 32]) - 2.5) < 1e-3
    # front face spans +-0.5 at depth 2.5: half-width in pixels = focal * 0.5 / 2.5
    focal = 0.5 * 65 / math.tan(math.radians(20))
    half = focal * 0.5 / 2.5
    row = frag.mask[0, 32].numpy()
    assert abs(row.sum() - 2 * half) <= 2
    assert not frag.mask[0, 0, 0]


def test_project_and_labels_consistent():
    obj = generate("humanoid", seed=1)
    m = obj.mesh()
    cams = orbit_cameras(np.linspace(0, 6, 3), 0.3, radius=4.0, width=64)
    r = render_mesh(m.vertices, m.faces, cams, face_colors=m.face_colors, face_labels=m.face_part)
    assert r.rgb.shape == (3, 64, 64, 3) and r.labels.shape == (3, 64, 64)
    assert set(np.unique(r.labels.numpy())) <= set(range(-1, obj.num_parts))
    assert torch.all((r.labels >= 0) == r.mask)
    uv, depth = project(torch.tensor(m.vertices), cams)
    assert (depth > 0).all() and uv.shape == (3, len(m.vertices), 2)


def test_procedural_kinematics_rigid_parts():
    for cat in CATEGORIES:
        obj = generate(cat, seed=3)
        m = obj.mesh()
        q = obj.animate(5, seed=1)
        vs = obj.pose_vertices(q, m)
        assert vs.shape == (5, len(m.vertices), 3)
        for p in range(obj.num_parts):  # every part moves rigidly: pairwise distances preserved
            idx = np.nonzero(m.vertex_part == p)[0][:6]
            d0 = np.linalg.norm(vs[0, idx, None] - vs[0, None, idx], axis=-1)
            d4 = np.linalg.norm(vs[4, idx, None] - vs[4, None, idx], axis=-1)
            assert np.allclose(d0, d4, atol=1e-9)


def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("CUDA not available on this machine: CPU path tested above")
    v, f = box_mesh((1, 0.5, 0.7), (0.1, 0, 0))
    cams = orbit_cameras([0.3, 2.0], [0.2, 0.5], width=48)
    a = rasterize(v, f, cams)
    b = rasterize(v, f, cams.to("cuda"))
    assert torch.equal(a.face_id, b.face_id.cpu())
