"""Registration of per-frame meshes into one topology + texture propagation (ShapeGen4D App. A.2, weight-free).

    from sdk.registration import register_frames, RegistrationConfig
    seq, report = register_frames(frames, RegistrationConfig(mode="template"))
"""
from .arap import ARAP
from .largesteps import AdamUniform, SmoothParam
from .register import RegistrationConfig, check_frames, register_frames
from .rigid import Similarity, icp_similarity, rigid_align, umeyama
from .texture import propagate_uv, transfer_attributes

__all__ = ["ARAP", "AdamUniform", "RegistrationConfig", "Similarity", "SmoothParam", "check_frames",
           "icp_similarity", "propagate_uv", "register_frames", "rigid_align", "transfer_attributes", "umeyama"]
