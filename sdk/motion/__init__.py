"""Motion synthesis (AKD): motion representation, skinned Gaussians, ground/shadow/camera, SDS, gaits."""
from .kinematics import KinematicRig, MotionParams, is_helper_bone

__all__ = ["KinematicRig", "MotionParams", "is_helper_bone"]
