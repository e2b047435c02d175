"""sdk.geometry kernels against their references in sdk/geometry/_reference.py, over devices (CPU always, CUDA when
present) and batch shapes for the torch kernels, over random meshes for the numpy ones."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sdk.core import Rig, Skeleton, SkinWeights
from sdk.core.mesh import Mesh
from sdk.geometry import _reference as ref
from sdk.geometry.bbox import bbox, bbox_diagonal, normalize_to_unit_box
from sdk.geometry.graph import (adjacency, components, edge_components, edge_graph, face_edges, graph_components,
                                mesh_graph, unique_edges)
from sdk.geometry.laplacian import cotangent_laplacian, mass_matrix
from sdk.geometry.lbs import linear_blend_skinning
from sdk.geometry.rigid import apply, fit_part_transforms, kabsch, to_matrix
from sdk.geometry.rotations import axis_angle_matrix
from sdk.geometry.sampling import sample_surface
from sdk.geometry.weld import weld, weld_over_time

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
BATCHES = [(), (3,), (2, 4)]


def _soup(rng, n_pieces=3):
    """Triangle soup of a few separate tetrahedra (every face its own 3 vertices): welding must reconnect them."""
    v, f = [], []
    for p in range(n_pieces):
        t = rng.normal(size=(4, 3)) + 4.0 * p
        for tri in ((0, 1, 2), (0, 3, 1), (1, 3, 2), (2, 3, 0)):
            f.append(np.arange(3) + len(v))
            v.extend(t[list(tri)])
    return np.array(v), np.array(f)


def _rand_rot(rng, batch=()):
    q = rng.normal(size=batch + (4,))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    from sdk.core.transforms import quat_to_matrix
    return quat_to_matrix(q)


# ------------------------------------------------------------------------------------------------ numpy kernels
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weld_matches_reference_and_reconnects_soup(seed):
    rng = np.random.default_rng(seed)
    v, f = _soup(rng)
    w = weld(v, f)
    diag = float(np.linalg.norm(v.max(0) - v.min(0)))
    rv, rf, rmap = ref._reference_weld(v, f, 1e-7 * diag)
    assert np.array_equal(w.vmap, rmap) and np.array_equal(w.faces, rf) and np.allclose(w.vertices, rv)
    assert w.n_vertices == 12 and components(w.faces, w.n_vertices)[0] == 3


def test_weld_over_time_keeps_pieces_that_separate():
    rng = np.random.default_rng(3)
    rest = rng.normal(size=(6, 3))
    rest[3] = rest[0]  # vertices 0 and 3 coincide at rest ...
    seq = np.repeat(rest[None], 5, 0).copy()
    seq[2:, 3] += 1.0  # ... but separate later: they must not weld
    seq[:, 5] = seq[:, 4]  # 4 and 5 coincide in every frame: they weld
    index, rep = weld_over_time(seq)
    assert index[0] != index[3] and index[4] == index[5] and len(rep) == 5
    assert weld(rest, np.zeros((0, 3), np.int64)).vmap[0] == weld(rest, np.zeros((0, 3), np.int64)).vmap[3]


@pytest.mark.parametrize("seed", [0, 1])
def test_edges_and_components_match_references(seed):
    rng = np.random.default_rng(seed)
    v, f = _soup(rng, 4)
    w = weld(v, f)
    e = unique_edges(w.faces)
    assert np.array_equal(e, ref._reference_unique_edges(w.faces))
    e2, inv = unique_edges(w.faces, w.n_vertices, return_inverse=True)
    assert np.array_equal(e2, e) and np.array_equal(np.sort(e[inv].reshape(-1, 2), 1),
                                                    np.sort(face_edges(w.faces).reshape(3, -1, 2).transpose(1, 0, 2)
                                                            .reshape(-1, 2), 1))
    want = ref._reference_components(w.n_vertices, e)
    for got in (components(w.faces, w.n_vertices)[1], edge_components(w.n_vertices, e)[1],
                edge_components(w.n_vertices, (e[:, 0], e[:, 1]))[1],
                graph_components(adjacency(w.n_vertices, e))[1], graph_components(edge_graph(w.faces, w.n_vertices))[1]):
        assert np.array_equal(got, want)
    assert want.max() == 3
    g = edge_graph(w.faces, w.n_vertices, w.vertices)
    i, j = e[0]
    assert np.isclose(g[i, j], np.linalg.norm(w.vertices[i] - w.vertices[j]))


def test_mesh_graph_links_separate_pieces():
    rng = np.random.default_rng(0)
    v, f = _soup(rng, 2)
    w = weld(v, f)
    e = mesh_graph(w.n_vertices, w.faces, w.vertices, link_radius=10.0)
    assert edge_components(w.n_vertices, e)[0] == 1  # the two tetrahedra are linked
    e_knn = mesh_graph(w.n_vertices, None, w.vertices, k=3)
    assert len(e_knn) and (e_knn[:, 0] < e_knn[:, 1]).all()


def test_cotangent_laplacian_and_mass_match_references():
    import trimesh
    m = trimesh.creation.icosphere(subdivisions=1)
    K = cotangent_laplacian(m.vertices, m.faces).toarray()
    assert np.allclose(K, ref._torch_impl_cotangent_laplacian(m.vertices, m.faces), atol=1e-10)
    assert np.allclose(K.sum(1), 0, atol=1e-10) and np.allclose(K, K.T)
    M = mass_matrix(m.vertices, m.faces)
    assert np.isclose(M.sum(), m.area)


def test_sample_surface_is_on_the_surface_and_area_weighted():
    import trimesh
    m = trimesh.creation.box(extents=(4.0, 1.0, 1.0))
    p = sample_surface(np.asarray(m.vertices), np.asarray(m.faces), 4000, np.random.default_rng(0))
    assert p.shape == (4000, 3)
    on_box = np.max(np.abs(p) / np.array([2.0, 0.5, 0.5]), axis=1)  # 1 on the box surface, < 1 inside
    assert np.abs(on_box - 1).max() < 1e-9
    # the two 4x1 faces pairs carry 16 of the 18 area units: |x| = 2 caps get 2/18
    assert abs(np.mean(np.isclose(np.abs(p[:, 0]), 2.0)) - 2 / 18) < 0.03


def test_rotations_match_scipy_and_bbox_helpers():
    rng = np.random.default_rng(0)
    axis = rng.normal(size=3)
    for angle in (0.3, rng.uniform(-3, 3, size=(5,)), rng.uniform(-3, 3, size=(2, 3))):
        assert np.allclose(axis_angle_matrix(axis, angle), ref.axis_angle_matrix_scipy(axis, angle), atol=1e-12)
    x = rng.normal(size=(2, 7, 3))
    lo, hi = bbox(x)
    assert lo.shape == (2, 3) and (lo <= x.min(1)).all() and np.isclose(bbox_diagonal(x), np.linalg.norm(
        x.reshape(-1, 3).max(0) - x.reshape(-1, 3).min(0)))
    n = normalize_to_unit_box(x)
    assert np.isclose(np.ptp(n.reshape(-1, 3), 0).max(), 1.0)


# ------------------------------------------------------------------------------------------------ torch kernels
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", BATCHES)
def test_kabsch_batched_matches_reference(device, batch):
    rng = np.random.default_rng(len(batch))
    n = 20
    p = rng.normal(size=batch + (n, 3))
    r = _rand_rot(rng, batch)
    t = rng.normal(size=batch + (3,))
    w = rng.uniform(0.1, 1.0, size=batch + (n,))
    q = np.einsum("...ij,...nj->...ni", r, p) + t[..., None, :] + 1e-3 * rng.normal(size=p.shape)
    R, T = kabsch(*(torch.tensor(a, device=device) for a in (p, q, w)))
    flat = [ref._reference_kabsch(pp, qq, ww) for pp, qq, ww in zip(p.reshape(-1, n, 3), q.reshape(-1, n, 3),
                                                                   w.reshape(-1, n))]
    assert np.allclose(R.cpu().numpy().reshape(-1, 3, 3), [a for a, _ in flat], atol=1e-9)
    assert np.allclose(T.cpu().numpy().reshape(-1, 3), [b for _, b in flat], atol=1e-9)
    m = to_matrix(R, T)
    assert torch.allclose(apply(m, torch.tensor(p, device=device)), torch.tensor(q, device=device), atol=1e-2)


@pytest.mark.parametrize("device", DEVICES)
def test_fit_part_transforms_recovers_rigid_parts(device):
    rng = np.random.default_rng(0)
    rest = rng.normal(size=(30, 3))
    labels = np.repeat([0, 1, 2], 10)
    r = _rand_rot(rng, (3, 4))  # [P, T, 3, 3]
    t = rng.normal(size=(3, 4, 3))
    frames = np.stack([np.einsum("pij,nj->pni", r[:, k], rest)[labels, np.arange(30)] + t[labels, k]
                       for k in range(4)])
    m = fit_part_transforms(torch.tensor(rest, device=device), torch.tensor(frames, device=device),
                            torch.tensor(labels, device=device), 3)
    assert np.allclose(m[:, :, :3, :3].cpu().numpy(), r, atol=1e-9) and np.allclose(m[:, :, :3, 3].cpu().numpy(), t,
                                                                                      atol=1e-9)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", BATCHES)
def test_lbs_matches_dense_reference_and_rig_pose(device, batch):
    rng = np.random.default_rng(7)
    V, J, k = 40, 5, 3
    rest = rng.normal(size=(V, 3))
    pose = np.tile(np.eye(4), batch + (J, 1, 1))
    pose[..., :3, :3] = _rand_rot(rng, batch + (J,))
    pose[..., :3, 3] = rng.normal(size=batch + (J, 3))
    dense = rng.uniform(size=(V, J)) * (rng.uniform(size=(V, J)) < 0.6) + 1e-3
    sw = SkinWeights.from_dense(dense / dense.sum(1, keepdims=True), k)
    out = linear_blend_skinning(torch.tensor(rest, device=device), torch.tensor(pose, device=device),
                                torch.tensor(sw.indices, device=device), torch.tensor(sw.weights, device=device))
    want = ref._torch_impl_dense(torch.tensor(rest, device=device), torch.tensor(pose, device=device),
                                 torch.tensor(sw.to_dense(J), device=device))
    assert out.shape == batch + (V, 3) and torch.allclose(out, want, atol=1e-10)
    # Rig.pose (core, numpy) evaluates the same formula: identity bind pose -> skinning matrices = pose
    rig = Rig(Mesh(rest, np.zeros((0, 3), np.int64)), Skeleton([f"j{i}" for i in range(J)], np.array([-1, 0, 1, 2, 3]),
                                                              np.tile(np.eye(4), (J, 1, 1)), np.tile(np.eye(4), (J, 1, 1))),
              sw)
    assert np.allclose(rig.pose(pose), want.cpu().numpy(), atol=1e-10)
