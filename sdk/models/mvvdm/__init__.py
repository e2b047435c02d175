"""Pieces of the MV-VDM that Track4DGen builds on (Animate3D: MVDream SD-1.5 multi-view 3-D attention with a camera
embedding + AnimateDiff motion modules + an MV2V adapter). Only the multi-view machinery is here, on diffusers
blocks: ``MultiViewAttnProcessor`` (MVDream's 3-D self-attention: the views of one frame attend to each other's
tokens jointly), ``set_multiview_attention(unet, n_views)`` and ``CameraEmbedding`` (flattened 4x4 camera ->
time-embedding space, added to the timestep embedding). No checkpoint loaders or registry entries yet.
"""
from .attention import CameraEmbedding, MultiViewAttnProcessor, set_multiview_attention

__all__ = ["CameraEmbedding", "MultiViewAttnProcessor", "set_multiview_attention"]
