"""MVDream-style multi-view attention on a tiny diffusers UNet: identity for one view, cross-view mixing and view
permutation equivariance for several."""
import pytest
import torch

diffusers = pytest.importorskip("diffusers")


def _unet():
    from diffusers import UNet2DConditionModel
    torch.manual_seed(0)
    return UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=4, norm_num_groups=8).eval()


def test_multiview_attention_one_view_is_identity_and_views_mix_equivariantly():
    from sdk.models.mvvdm import CameraEmbedding, set_multiview_attention
    unet = _unet()
    x = torch.randn(4, 4, 8, 8)
    t = torch.tensor([10] * 4)
    ctx = torch.randn(4, 3, 16)
    with torch.no_grad():
        ref = unet(x, t, ctx).sample
        assert set_multiview_attention(unet, 1) >= 2
        assert torch.allclose(unet(x, t, ctx).sample, ref, atol=1e-5)
        set_multiview_attention(unet, 2)  # two groups of two views
        mv = unet(x, t, ctx).sample
        assert (mv - ref).abs().max() > 1e-4  # views now see each other
        x2 = x.clone()
        x2[1] = torch.randn(4, 8, 8)  # change view 1 of group 0
        mv2 = unet(x2, t, ctx).sample
        assert (mv2[0] - mv[0]).abs().max() > 1e-5     # view 0 of the same group is affected
        assert torch.allclose(mv2[2:], mv[2:], atol=1e-5)  # the other group is not
        perm = torch.tensor([1, 0, 3, 2])              # swap the views inside each group
        mvp = unet(x[perm], t, ctx[perm]).sample
        assert torch.allclose(mvp, mv[perm], atol=1e-4)
    emb = CameraEmbedding(64)
    assert emb(torch.eye(4).repeat(3, 1, 1)).shape == (3, 64)
