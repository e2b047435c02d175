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


def perturb_mvvdm(model, seed=1, scale=0.05, ip_scale=0.3):
    """Randomise every parameter a fresh MV-VDM zero-initialises (MV2V out, motion proj_out, blender), and add noise to
    the IP-Adapter weights where the model has them (a fresh model copies them from to_k/to_v)."""
    from sdk.models.mvvdm.ip_adapter import is_ip_key
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, p in model.named_parameters():
            if "_i2v" in k or "proj_out" in k or "mix_factor" in k or "_sp." in k:
                p.copy_(torch.randn(p.shape, generator=g) * scale)
            elif is_ip_key(k):
                p.add_(torch.randn(p.shape, generator=g) * ip_scale)
    return model


def mvvdm_inputs(cfg, b=2, seed=0, image=False):
    """(latents [B, N, F, C, S, S], timesteps [B], text [B, 3, D], cameras [B, N, 4, 4]) and, with ``image``, the
    IP-Adapter image embeddings [B, N, E]."""
    g = torch.Generator().manual_seed(seed)
    n, f, s = cfg.n_views, cfg.n_frames, cfg.latent_size
    out = (torch.randn(b, n, f, cfg.in_channels, s, s, generator=g), torch.tensor([10, 500][:b]),
           torch.randn(b, 3, cfg.cross_attention_dim, generator=g), torch.randn(b, n, 4, 4, generator=g))
    return out + (torch.randn(b, n, cfg.ip_image_embed_dim, generator=g),) if image else out
