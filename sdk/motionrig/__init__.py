"""Rig from motion: kinematic parts, skeleton, joints and skinning recovered from mesh sequences (4D caches)."""
from ..core.sequence import MeshSequence
from ..errors import MotionWarning
from .sequence import load_sequence, save_npz

__all__ = ["MeshSequence", "MotionWarning", "load_sequence", "rig_from_motion", "save_npz"]


def __getattr__(name):
    if name == "rig_from_motion":
        from .pipeline import rig_from_motion
        return rig_from_motion
    raise AttributeError(name)
