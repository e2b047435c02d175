import torch
from torch import nn

from sdk.models.sp4d.checkpoint import load_sp4d_state_dict, load_sv4d_state_dict, to_sgm_state_dict
from sdk.models.sp4d.unet import SP4DConfig, SP4DUNet, SV4DUNet


class SgmResBlock(nn.Module):
    """sgm ResBlock written from its public definition (key names in_layers/emb_layers/out_layers/skip_connection)."""

    def __init__(self, cin, cout, emb):
        super().__init__()
        self.in_layers = nn.Sequential(nn.GroupNorm(32, cin, eps=1e-5), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, cout))
        self.out_layers = nn.Sequential(nn.GroupNorm(32, cout, eps=1e-5), nn.SiLU(), nn.Dropout(0.0),
                                        nn.Conv2d(cout, cout, 3, padding=1))
        self.skip_connection = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.in_layers(x) + self.emb_layers(emb)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


def _randomize(m):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def test_sgm_layout_keys_and_roundtrip():
    torch.manual_seed(0)
    cfg = SP4DConfig.tiny()
    a = SP4DUNet(cfg).eval()
    _randomize(a)
    sd = to_sgm_state_dict(a)
    keys = set(sd)
    # the sgm names appear, ours do not
    assert "model.diffusion_model.input_blocks.1.0.in_layers.0.weight" in keys
    assert "model.diffusion_model.input_blocks.1.0.time_stack.out_layers.3.weight" in keys
    assert "model.diffusion_model.input_blocks.2.0.op.weight" in keys
    assert "model.diffusion_model.time_embed.0.weight" in keys
    assert "model.diffusion_model.label_emb.0.2.bias" in keys
    assert "model.diffusion_model_part.middle_block.1.transformer_blocks.0.attn1.to_q.weight" in keys
    assert not any("spatial_res_block" in k or "linear_1" in k for k in keys)
    b = SP4DUNet(cfg).eval()
    rep = load_sp4d_state_dict(b, sd)
    assert rep["rgb"]["missing"] == [] and rep["rgb"]["unused"] == []
    x = a.example_inputs(1)
    with torch.no_grad():
        assert torch.allclose(a(*x), b(*x), atol=1e-6)


def test_sgm_resblock_semantics_match_after_loading():
    cfg = SP4DConfig.tiny()
    br = SV4DUNet(cfg)
    ours = br.input_blocks[1][0].spatial_res_block       # 32 -> 32 channels
    ref = SgmResBlock(32, 32, cfg.time_embed_dim)
    _randomize(ref)
    sd = {f"model.diffusion_model.input_blocks.1.0.{k}": v for k, v in ref.state_dict().items()}
    rep = load_sv4d_state_dict(br, sd, strict=False)
    assert not any(k.startswith("input_blocks.1.0.spatial_res_block.") for k in rep["missing"])
    assert rep["unused"] == []
    x = torch.randn(3, 32, 8, 8)
    emb = torch.randn(3, cfg.time_embed_dim)
    with torch.no_grad():
        assert torch.allclose(ours(x, emb), ref(x, emb), atol=1e-5)


def test_sv4d_checkpoint_initialises_both_branches_and_strict_reports_missing():
    cfg = SP4DConfig.tiny()
    a = SP4DUNet(cfg)
    _randomize(a)
    sd = {k: v for k, v in to_sgm_state_dict(a).items() if k.startswith("model.diffusion_model.")}
    # SV4D has a single mixer per transformer
    sd = {k: v for k, v in sd.items() if "motion_mixer" not in k}
    b = SP4DUNet(cfg)
    rep = load_sp4d_state_dict(b, sd)
    assert "initialised from the RGB branch" in rep["part"]
    for (k1, v1), (k2, v2) in zip(b.branch_rgb.state_dict().items(), b.branch_part.state_dict().items()):
        assert torch.equal(v1, v2)
    assert torch.equal(b.branch_rgb.middle_block[1].motion_mixer.mix_factor, a.branch_rgb.middle_block[1].time_mixer.mix_factor)
    broken = {k: v for k, v in sd.items() if "out.2" not in k}
    try:
        load_sp4d_state_dict(SP4DUNet(cfg), broken)
    except KeyError as e:
        assert "out.2" in str(e)
    else:
        raise AssertionError("strict load accepted a checkpoint with missing keys")
