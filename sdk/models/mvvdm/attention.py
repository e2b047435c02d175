"""MVDream-style multi-view self-attention for diffusers UNets.

The UNet's batch holds ``n_views`` consecutive images per group (index = group * n_views + view; for an AnimateDiff
video UNet the group is (sample, frame)). In every spatial self-attention (``attn1`` of the transformer blocks, not
the motion modules) the tokens of the group's views are concatenated, so each view attends to all of them; cross-
attention and the temporal modules are untouched. With ``n_views = 1`` it is the ordinary processor.
"""
from __future__ import annotations

from torch import Tensor, nn


class MultiViewAttnProcessor:
    def __init__(self, n_views: int):
        from diffusers.models.attention_processor import AttnProcessor2_0
        if n_views < 1:
            raise ValueError("n_views must be >= 1")
        self.n_views = n_views
        self.base = AttnProcessor2_0()

    def __call__(self, attn, hidden_states: Tensor, encoder_hidden_states: Tensor | None = None,
                 attention_mask: Tensor | None = None, temb: Tensor | None = None, *args, **kwargs) -> Tensor:
        v = self.n_views
        if encoder_hidden_states is not None or v == 1 or hidden_states.ndim != 3:
            return self.base(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        bv, length, c = hidden_states.shape
        if bv % v:
            raise ValueError(f"batch {bv} is not a multiple of n_views {v}")
        x = hidden_states.reshape(bv // v, v * length, c)  # views of one group side by side
        out = self.base(attn, x, None, None, temb)
        return out.reshape(bv, length, c)


def set_multiview_attention(unet: nn.Module, n_views: int) -> int:
    """Install the multi-view processor on every spatial self-attention (``*.attn1`` not under motion modules).
    Returns how many attention layers were changed."""
    from diffusers.models.attention_processor import Attention
    count = 0
    for name, mod in unet.named_modules():
        if isinstance(mod, Attention) and name.endswith("attn1") and "motion_modules" not in name:
            mod.set_processor(MultiViewAttnProcessor(n_views))
            count += 1
    return count


class CameraEmbedding(nn.Module):
    """MVDream's camera conditioning: the flattened 4x4 camera matrix -> Linear-SiLU-Linear into the time-embedding
    space; the result is added to the timestep embedding."""

    def __init__(self, time_embed_dim: int, camera_dim: int = 16):
        super().__init__()
        from diffusers.models.embeddings import TimestepEmbedding
        self.camera_dim = camera_dim
        self.embed = TimestepEmbedding(camera_dim, time_embed_dim)

    def forward(self, cameras: Tensor) -> Tensor:  # [B, 4, 4] or [B, 16] -> [B, time_embed_dim]
        return self.embed(cameras.reshape(cameras.shape[0], -1).to(self.embed.linear_1.weight.dtype))
