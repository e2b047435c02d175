"""End to end through the renderer: known joint angles recovered from an analytic target (the render of Θ*) with
the oracle SDS (v-prediction of a point mass at the target), FK -> LBS Gaussians (Σ' = AΣAᵀ) -> splat + ground."""
import numpy as np
import pytest
import torch

from sdk.core import Mesh, Rig, Skeleton, SkinWeights
from sdk.core.transforms import translation
from sdk.motion import KinematicRig, MotionParams
from sdk.motion import sds
from sdk.motion.render import SkinnedGaussians, render_motion
from sdk.motion.scene import CameraConfig, GroundConfig


def box(c, h):
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * h + c
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return v, f


def arm_rig():
    """a base block and a long arm hinged on it (skinned rigidly)."""
    parts = [((0, 0.25, 0), (0.2, 0.25, 0.2)), ((0.0, 0.9, 0), (0.06, 0.4, 0.06))]
    vs, fs, lab = [], [], []
    for i, (c, h) in enumerate(parts):
        v, f = box(np.array(c), np.array(h))
        fs.append(f + 8 * i)
        vs.append(v)
        lab += [i] * 8
    sk = Skeleton.from_world(["base", "arm"], [-1, 0], np.stack([translation([0, 0.25, 0]), translation([0, 0.5, 0])]))
    return Rig(Mesh(np.concatenate(vs), np.concatenate(fs), "arm"), sk,
               SkinWeights(np.array(lab)[:, None], np.ones((16, 1)))).validate()


def test_joint_angles_recovered_through_the_renderer():
    kin = KinematicRig(arm_rig())
    sg = SkinnedGaussians.from_rig(kin, 250, seed=0)
    cam = CameraConfig(azimuth_deg=0.0, elevation_deg=10.0, smoothing=0.0, distance=2.5)
    gcfg = GroundConfig(shadow=True)
    F = 2
    target = kin.rest_params(F)
    target.angles[:, 0, 2] = torch.tensor([0.5, -0.4])  # bend the arm sideways (about z), seen by the camera
    with torch.no_grad():
        x_star, _ = render_motion(kin, sg, target, size=(32, 32), camera=cam, ground=gcfg)
    ac = torch.linspace(0.9999, 0.01, 1000, dtype=torch.float64)  # any schedule: the oracle is exact for all
    oracle = lambda zt, t: (sds._bc(sds.alphas_sigmas(ac, t)[0], zt) * zt - x_star.double()[None]) / \
        sds._bc(sds.alphas_sigmas(ac, t)[1], zt)
    guide = sds.LatentSDS(lambda v: v.double(), lambda zt, t: (oracle(zt, t), oracle(zt, t)), ac, guidance_scale=7.5,
                          generator=torch.Generator().manual_seed(0))
    ang = torch.zeros(F, kin.n_driven, 3, requires_grad=True)
    opt = torch.optim.Adam([ang], lr=0.04)
    err0 = float((ang.detach() - target.angles)[:, 0, 2].abs().mean())
    for it in range(80):
        opt.zero_grad()
        video, _ = render_motion(kin, sg, MotionParams(ang, target.root), size=(32, 32), camera=cam, ground=gcfg)
        # encode = identity (pixel space): the SDS gradient is exactly video − x*
        guide.loss((video[None] + 1) / 2, it).backward()  # LatentSDS maps [0,1] -> [-1,1]; undo it for pixels
        opt.step()
    err = float((ang.detach() - target.angles)[:, 0, 2].abs().mean())
    assert err < 0.2 * err0, (err0, err)


def test_ground_layer_and_composite():
    from sdk.motion.scene import composite, follow_camera, ground_layer
    c = follow_camera(torch.tensor([[0.0, 0.5, 0.0]]), 1.0, CameraConfig(elevation_deg=30.0, smoothing=0.0), 32, 32)
    g = ground_layer(c, 0.0, 1.0, GroundConfig(shadow=False))
    # the lower image rows see the checkerboard (two tile colours), the top rows the sky
    bottom = g[0, -8:].reshape(-1, 3)
    assert len(torch.unique(bottom[:, 0])) >= 2
    # far away the checker fades to its mean colour; above the horizon rays miss the ground: the sky colour
    assert torch.allclose(g[0, 0, 16], torch.full((3,), 0.65), atol=1e-4)
    low = follow_camera(torch.tensor([[0.0, 0.5, 0.0]]), 1.0, CameraConfig(elevation_deg=0.0, smoothing=0.0), 32, 32)
    assert torch.allclose(ground_layer(low, 0.0, 1.0, GroundConfig(shadow=False))[0, 0, 16], torch.ones(3))
    # composite: fully opaque splats hide the ground, transparent ones show it
    rgb = torch.full((1, 32, 32, 3), 0.3)
    assert torch.allclose(composite(rgb, torch.ones(1, 32, 32), g), rgb)
    assert torch.allclose(composite(torch.zeros_like(rgb), torch.zeros(1, 32, 32), g), g)
    # the App. C shadow darkens the ground right under a hovering body and not far from it
    means = torch.tensor([[[0.0, 0.05, 0.0]]]).expand(1, 50, 3) + torch.randn(1, 50, 3) * 0.02
    gs = ground_layer(c, 0.0, 1.0, GroundConfig(shadow=True), means)
    assert float((gs - ground_layer(c, 0.0, 1.0, GroundConfig(shadow=False))).min()) < -0.1
    assert torch.allclose(gs[0, -1, 0], ground_layer(c, 0.0, 1.0, GroundConfig(shadow=False))[0, -1, 0])
