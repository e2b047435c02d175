"""A small physics test (Newton on CPU): a 4-bone rig built here; the chunked simulator is stable, gradients of the
chunk inputs are finite and clipped, tracking lowers the Eq. 13 loss, and a non-finite state stops with the frame
and bone named. Tolerates the first Warp kernel compilation (~1 min on a cold cache)."""
import numpy as np
import pytest
import torch

pytest.importorskip("newton")

from sdk.core import Animation, Mesh, Rig, Skeleton, SkinWeights
from sdk.core.transforms import translation
from sdk.errors import InvalidInputError
from sdk.motion import KinematicRig, MotionParams
from sdk.physics.model import PhysicsConfig
from sdk.physics.sim import SimulationDiverged
from sdk.physics.tracking import Tracker, TrackingConfig


def box(c, h):
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * h + c
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return v, f


def biped_rig():
    """body + two one-bone legs (a tiny biped, 0.8 units tall), feet on y = 0."""
    parts = [((0, 0.6, 0), (0.25, 0.2, 0.15)), ((0.12, 0.2, 0), (0.06, 0.2, 0.06)), ((-0.12, 0.2, 0), (0.06, 0.2, 0.06))]
    vs, fs, lab = [], [], []
    for i, (c, h) in enumerate(parts):
        v, f = box(np.array(c), np.array(h))
        fs.append(f + sum(len(x) for x in vs))
        vs.append(v)
        lab += [i] * 8
    mesh = Mesh(np.concatenate(vs), np.concatenate(fs), "biped")
    bind = np.stack([translation([0, 0.5, 0]), translation([0.12, 0.4, 0]), translation([-0.12, 0.4, 0])])
    sk = Skeleton.from_world(["body", "leg_L", "leg_R"], [-1, 0, 0], bind)
    skin = SkinWeights(np.array(lab)[:, None], np.ones((len(lab), 1)))
    return Rig(mesh, sk, skin).validate()


@pytest.fixture(scope="module")
def tracker():
    kin = KinematicRig(biped_rig(), dtype=torch.float64)
    return kin, Tracker(kin, PhysicsConfig(chunk=40))


def test_stable_standing_and_clipped_finite_gradients(tracker):
    kin, tr = tracker
    F = 4
    p = kin.rest_params(F)
    t = torch.arange(F, dtype=torch.float64)
    p.angles[:, 0, 0] = 0.15 * torch.sin(t)  # swing the left leg
    p.angles[:, 1, 0] = -0.15 * torch.sin(t)
    ol, best = tr.track(p, 30.0, TrackingConfig(iterations=3))
    assert np.isfinite(ol.body_q).all() and np.isfinite(best.body_q).all()
    assert best.diverged is None
    # standing: the body stays up (no fall) and nothing sinks more than 1% of the height into the ground
    from sdk.physics.tracking import box_corners
    assert ol.body_q[:, 0, 1].min() > 0.7 * ol.body_q[0, 0, 1]
    assert -box_corners(tr.phys, best.body_q)[..., 1].min() < 0.01 * tr.cfg.height_m
    # gradients of every chunk's inputs are finite (clipping happens inside each chunk's backward)
    assert len(best.grad_norms) > 0 and all(np.isfinite(best.grad_norms))
    # the optimisation lowers the tracking loss
    assert min(best.losses[1:]) < best.losses[0]


def test_non_finite_state_names_frame_and_bone(tracker):
    kin, tr = tracker
    p = kin.rest_params(3)
    q0 = torch.as_tensor(tr.prepare(p)[0])
    runner = tr._runner(q0.numpy(), True)
    targets = p.angles[:, torch.as_tensor(tr.phys.driven_index[1:])].clone()
    targets[1:, 0, 0] = float("nan")  # a NaN PD target drives the left leg to a non-finite state
    with pytest.raises(SimulationDiverged) as e:
        with torch.no_grad():
            tr.rollout(targets, q0, torch.zeros(3, 6, dtype=torch.float64), 30.0, runner)
    assert e.value.frame == 1 and e.value.bone in ("body", "leg_L", "leg_R")


def test_rig_without_ground_contact_is_rejected():
    from sdk.motion.gait import detect_legs
    rig = biped_rig()
    # legs folded up: no leaf bone's skin reaches the lowest 8% of the height
    v = rig.mesh.vertices.copy()
    v[8:, 1] += 0.45
    rig2 = Rig(Mesh(np.concatenate([v, [[0, 0, 0]]]), np.concatenate([rig.mesh.faces, [[0, 1, 24]]]), "x"),
               rig.skeleton, SkinWeights(np.r_[rig.skin.indices[:, 0], 0][:, None], np.ones((25, 1))))
    with pytest.raises(InvalidInputError, match="touches the ground"):
        detect_legs(KinematicRig(rig2))
