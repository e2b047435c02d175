"""Registration of per-frame meshes into one topology + texture propagation (ShapeGen4D App. A.2, weight-free).

    from sdk.registration import register_frames, RegistrationConfig
    seq, report = register_frames(frames, RegistrationConfig(mode="template"))
"""
from .arap import ARAP
from .largesteps import AdamUniform, SmoothParam
from .register import RegistrationConfig, check_frames, register_frames
from .rigid import Similarity, icp_similarity, rigid_align, umeyama
from .texture import propagate_uv, propagate_uv_seams, split_sequence_seams, transfer_attributes, uv_charts

__all__ = ["ARAP", "AdamUniform", "RegistrationConfig", "Similarity", "SmoothParam", "check_frames",
           "icp_similarity", "propagate_uv", "propagate_uv_seams", "register_frames", "rigid_align", "split_sequence_seams",
           "transfer_attributes", "umeyama", "uv_charts"]
