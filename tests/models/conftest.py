"""Shared helpers of tests/models."""
import torch


def sd_unet(cfg):
    """The SD-1.5-layout diffusers UNet2DConditionModel with the sizes of an MVVDMConfig (the frame-by-frame reference)."""
    from diffusers import UNet2DConditionModel
    torch.manual_seed(3)
    return UNet2DConditionModel(
        sample_size=cfg.latent_size, in_channels=4, out_channels=4, layers_per_block=cfg.layers_per_block,
        block_out_channels=cfg.block_out_channels,
        down_block_types=tuple(t.replace("Motion", "2D") for t in cfg.down_block_types),
        up_block_types=tuple(t.replace("Motion", "2D") for t in cfg.up_block_types),
        cross_attention_dim=cfg.cross_attention_dim, attention_head_dim=cfg.num_attention_heads,
        norm_num_groups=cfg.norm_num_groups).eval()
