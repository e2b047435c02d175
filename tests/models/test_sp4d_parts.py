import numpy as np
import pytest
import torch

from sdk.models.sp4d.backmap import backmap
from sdk.models.sp4d.colour_encoding import decode, encode, part_colors
from sdk.models.sp4d.lifting import lift_part_maps
from sdk.models.sp4d.losses import _info_nce_torch_impl, info_nce, pool_part_features
from sdk.models.sp4d.metrics import part_metrics
from sdk.models.sp4d.train import DataConfig, make_sample, normalize_frames
from sdk.procedural import generate
from sdk.render import orbit_cameras, render_mesh


def test_colour_encoding_roundtrip_and_first_frame_centres():
    obj = generate("humanoid", seed=4)
    mesh = obj.mesh()
    cols = part_colors(mesh.vertices, mesh.vertex_part)
    assert cols.shape == (obj.num_parts, 3) and cols.min() >= 0.05 and cols.max() <= 0.85
    assert len(np.unique(cols.round(4), axis=0)) == obj.num_parts
    lab = torch.randint(-1, obj.num_parts, (3, 20, 20))
    img = encode(lab, cols)
    assert torch.equal(decode(img, cols), lab)
    noisy = (img + 0.01 * torch.randn_like(img)).clamp(0, 1)
    assert (decode(noisy, cols) == lab).float().mean() > 0.97


def test_info_nce_matches_reference_and_prefers_consistent_features():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(12, 8, generator=g)
    ids = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4])
    assert torch.allclose(info_nce(feats, ids), _info_nce_torch_impl(feats, ids), atol=1e-5)
    centres = torch.randn(5, 8, generator=g) * 3
    good = centres[ids] + 0.05 * torch.randn(12, 8, generator=g)
    assert info_nce(good, ids) < info_nce(feats, ids) - 1.0
    # temperature 0.07 by default
    assert torch.allclose(info_nce(feats, ids), info_nce(feats, ids, tau=0.07))


def test_pool_part_features_means_per_image_and_part():
    f = torch.arange(2 * 1 * 2 * 2, dtype=torch.float32).reshape(2, 1, 2, 2)
    lab = torch.tensor([[[0, 0], [1, -1]], [[1, 1], [1, 1]]])
    feats, ids = pool_part_features(f, lab, torch.tensor([0, 0]), 4)
    assert ids.tolist() == [0, 1, 1]
    assert feats[:, 0].tolist() == [0.5, 2.0, 5.5]


def test_metrics_label_permutation_invariant_and_penalise_merges():
    gt = np.array([0, 0, 1, 1, 2, 2, -1])
    perfect = np.array([5, 5, 3, 3, 9, 9, 0])
    m = part_metrics(perfect, gt)
    assert all(abs(v - 1) < 1e-9 for v in m.values())
    merged = np.array([1, 1, 1, 1, 2, 2, 0])
    m2 = part_metrics(merged, gt)
    assert m2["miou"] < 0.8 and m2["ari"] < 0.8 and m2["macc"] < 1


def test_backmap_recovers_parts_from_encodings_consistently_across_views():
    d = make_sample(5, DataConfig(views=4, frames=2, res=48))
    enc = d["enc"].numpy().reshape(-1, 48, 48, 3) / 255.0
    gt = d["labels"].numpy().reshape(-1, 48, 48).astype(int)
    noisy = np.clip(enc + np.random.default_rng(0).normal(0, 0.02, enc.shape), 0, 1)
    maps = backmap(noisy, fg=gt >= 0)
    m = part_metrics(maps, gt)
    assert m["ari"] > 0.8 and m["miou"] > 0.7, m
    # the colour fallback on shaded RGB does worse than on the encoding
    rgb = d["rgb"].numpy().reshape(-1, 48, 48, 3) / 255.0
    assert part_metrics(backmap(rgb), gt)["ari"] < m["ari"]


def test_lifting_recovers_vertex_parts_from_ground_truth_maps():
    obj = generate("robot_arm", seed=2)
    mesh = obj.mesh()
    v = normalize_frames(mesh.vertices[None])[0]
    cams = orbit_cameras(np.linspace(0, 2 * np.pi, 8, endpoint=False), 0.4, radius=2.4, width=96)
    r = render_mesh(v, mesh.faces, cams, face_labels=mesh.face_part)
    perm = np.random.default_rng(0).permutation(obj.num_parts)
    maps = torch.where(r.labels >= 0, torch.as_tensor(perm)[r.labels.clamp_min(0)], r.labels)
    labels, conf = lift_part_maps(v, mesh.faces, cams, maps)
    acc = (labels == perm[mesh.vertex_part]).mean()
    assert acc > 0.9, acc
    with pytest.raises(Exception):
        lift_part_maps(v, mesh.faces, cams, maps[:2])


def test_backmap_with_triangle_pooling_beats_pixel_clustering_on_noisy_encodings():
    d = make_sample(7, DataConfig(views=4, frames=2, res=48), with_faces=True)
    enc = d["enc"].numpy().reshape(-1, 48, 48, 3) / 255.0
    gt = d["labels"].numpy().reshape(-1, 48, 48).astype(int)
    fid = d["face"].numpy().reshape(-1, 48, 48)
    assert ((fid >= 0) == (gt >= 0)).all()
    noisy = np.clip(enc + np.random.default_rng(1).normal(0, 0.08, enc.shape), 0, 1)
    pooled = part_metrics(backmap(noisy, face_ids=fid), gt)
    plain = part_metrics(backmap(noisy, fg=gt >= 0), gt)
    assert pooled["miou"] > 0.9 and pooled["miou"] > plain["miou"], (pooled, plain)
    with pytest.raises(Exception):
        backmap(noisy, face_ids=fid[:2])
