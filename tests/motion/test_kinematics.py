"""FK/LBS in AKD's parameterisation against the rig's own skinning; Gaussian skin transfer and Σ' = AΣAᵀ."""
import numpy as np
import pytest
import torch

from sdk.io import load_asset
from sdk.motion import KinematicRig, MotionParams
from sdk.motion.gaussians import (covariances, deform_gaussians, gaussians_from_mesh, transfer_skin_weights)
from sdk.motion.kinematics import euler_xyz_to_matrix, axis_angle_to_matrix


@pytest.fixture(scope="module")
def fox(shared_data):
    return load_asset(shared_data / "rigged" / "Fox" / "Fox.glb").rig


def test_euler_matches_scipy_intrinsic_xyz():
    from scipy.spatial.transform import Rotation
    th = torch.tensor([[0.3, -0.4, 0.5], [1.2, 0.1, -2.0]], dtype=torch.float64)
    ref = Rotation.from_euler("XYZ", th.numpy()).as_matrix()
    assert np.allclose(euler_xyz_to_matrix(th).numpy(), ref, atol=1e-12)
    aa = torch.tensor([[0.0, 0.0, 0.0], [0.2, -0.5, 0.9]], dtype=torch.float64)
    assert np.allclose(axis_angle_to_matrix(aa).numpy(), Rotation.from_rotvec(aa.numpy()).as_matrix(), atol=1e-12)


@pytest.mark.parametrize("clip", ["Walk", "Run"])
def test_fk_lbs_reproduce_the_rigs_own_skinning(fox, clip):
    kin = KinematicRig(fox, dtype=torch.float64)
    assert fox.skeleton.names[kin.root] == "b_Hip_01" and kin.n_driven == 21
    p = kin.params_from_animation(fox.animation(clip))
    assert p.angles.shape == (fox.animation(clip).n_frames, kin.n_driven, 3) and p.root.shape[1] == 6
    world = kin.fk(p)
    ref = fox.animation(clip).world_matrices(fox.skeleton.parents)
    H = np.ptp(fox.mesh.vertices[:, 1])
    assert np.abs(world.numpy()[..., :3, 3] - ref[..., :3, 3]).max() < 1e-5 * H
    v = kin.skin_mesh(world).numpy()
    assert np.abs(v - fox.animate(clip)).max() < 1e-5 * H
    # and back to an Animation the exporters take
    anim = kin.animation_from_params(p, clip, 30.0)
    assert np.abs(fox.pose(anim.world_matrices(fox.skeleton.parents)) - fox.animate(clip)).max() < 1e-4 * H


def test_gradients_reach_joint_angles(fox):
    kin = KinematicRig(fox)
    p = kin.rest_params(3)
    p.angles.requires_grad_(True)
    p.root.requires_grad_(True)
    kin.skin_mesh(kin.fk(p))[..., 1].sum().backward()
    assert p.angles.grad.abs().sum() > 0 and p.root.grad[:, 1].abs().min() > 0


def test_gaussian_weights_are_barycentric_at_the_nearest_surface_point(fox):
    cloud, face, bary = gaussians_from_mesh(fox.mesh, 500, seed=1)
    J = fox.skeleton.n_joints
    # move the centres off the surface along random small offsets: the nearest point must still be found
    pts = cloud.means.astype(np.float64)
    sw = transfer_skin_weights(pts, fox.mesh, fox.skin, J, k=J)
    dense = fox.skin.to_dense(J)
    expect = (bary[:, :, None] * dense[fox.mesh.faces[face]]).sum(1)
    got = sw.to_dense(J)
    from sdk.motion.gaussians import closest_surface_points
    _, _, q = closest_surface_points(pts, fox.mesh)
    assert np.abs(q - pts).max() < 1e-6 * np.ptp(fox.mesh.vertices)  # the surface point itself is found
    # where two faces touch the point (edges, overlapping sheets) either face is a valid nearest point
    ok = np.abs(got - expect).max(1) < 1e-4
    assert ok.mean() > 0.97
    # nearest-vertex weights differ: the test would catch a nearest-vertex transfer
    from scipy.spatial import cKDTree
    nv = cKDTree(fox.mesh.vertices).query(pts)[1]
    assert np.abs(dense[nv] - expect).max() > 0.05


def test_deformed_covariance_is_A_sigma_At(fox):
    kin = KinematicRig(fox, dtype=torch.float64)
    cloud, face, bary = gaussians_from_mesh(fox.mesh, 64, seed=2)
    sw = transfer_skin_weights(cloud.means.astype(np.float64), fox.mesh, fox.skin, fox.skeleton.n_joints)
    p = kin.params_from_animation(fox.animation("Walk"))
    sk = kin.skinning(kin.fk(MotionParams(p.angles[:2], p.root[:2])))
    cov = covariances(torch.as_tensor(cloud.quats, dtype=torch.float64), torch.as_tensor(cloud.scales, dtype=torch.float64))
    mu, sig = deform_gaussians(torch.as_tensor(cloud.means, dtype=torch.float64), cov, sk,
                               torch.as_tensor(sw.indices), torch.as_tensor(sw.weights))
    # reference: finite-difference Jacobian of the LBS map at μ (weights fixed per Gaussian)
    from sdk.rigging.lbs import linear_blend_skinning
    i, f = 5, 1
    m0 = torch.as_tensor(cloud.means[i:i + 1], dtype=torch.float64)
    idx, w = torch.as_tensor(sw.indices[i:i + 1]), torch.as_tensor(sw.weights[i:i + 1])
    A = torch.autograd.functional.jacobian(lambda x: linear_blend_skinning(x, sk[f], idx, w)[0], m0)[:, 0]
    assert torch.allclose(mu[f, i], linear_blend_skinning(m0, sk[f], idx, w)[0], atol=1e-9)
    assert torch.allclose(sig[f, i], A @ cov[i] @ A.T, atol=1e-9)
