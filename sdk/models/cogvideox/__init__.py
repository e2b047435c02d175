"""CogVideoX (diffusers) as AKD's video guidance."""
from .guidance import CogVideoXGuidance, CogVideoXGuidanceConfig, check_checkpoint, check_video_shape, weights_present

__all__ = ["CogVideoXGuidance", "CogVideoXGuidanceConfig", "check_checkpoint", "check_video_shape", "weights_present"]
