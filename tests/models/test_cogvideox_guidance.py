"""CogVideoX guidance on a tiny random model built here: real loading code (save_pretrained -> from_pretrained),
layouts, 4k+1 frames, missing files, and SDS gradients reaching the joint angles through renderer, LBS and FK."""
import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from sdk.errors import InvalidInputError, MissingWeightsError
from sdk.models.cogvideox import CogVideoXGuidance, CogVideoXGuidanceConfig


def tiny_checkpoint(tmp_path, rope: bool = True):
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXTransformer3DModel
    torch.manual_seed(0)
    # RoPE needs head_dim % 16 == 0
    tr = CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
                                     time_embed_dim=2, text_embed_dim=32, num_layers=1, sample_width=4,
                                     sample_height=4, sample_frames=9, patch_size=2, temporal_compression_ratio=4,
                                     max_text_seq_length=16, use_rotary_positional_embeddings=rope)
    vae = AutoencoderKLCogVideoX(in_channels=3, out_channels=3,
                                 down_block_types=("CogVideoXDownBlock3D",) * 4,
                                 up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
                                 latent_channels=4, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
                                 scaling_factor=0.7)
    # the 5B scheduler config (conversion script): v-prediction, zero terminal SNR, trailing, shift 1.0
    sch = CogVideoXDDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                 prediction_type="v_prediction", rescale_betas_zero_snr=True, snr_shift_scale=1.0,
                                 timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=True)
    d = tmp_path / "cogvideox-5b"
    tr.save_pretrained(d / "transformer")
    vae.save_pretrained(d / "vae")
    sch.save_pretrained(d / "scheduler")
    (d / "model_index.json").write_text('{"_class_name": "CogVideoXPipeline"}')
    return d


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(MissingWeightsError) as e:
        CogVideoXGuidance.from_pretrained(tmp_path / "cogvideox-5b", prompt_embeds=torch.zeros(1, 16, 32))
    assert "model_index.json" in str(e.value) and "ARTICULATE_WEIGHTS_DIR" in str(e.value)


def test_tiny_model_loads_and_gradients_reach_joint_angles(tmp_path, shared_data):
    from sdk.io import load_asset
    from sdk.motion import KinematicRig
    from sdk.motion.distill import DistillConfig, distill
    from sdk.motion.render import SkinnedGaussians
    d = tiny_checkpoint(tmp_path)
    g = CogVideoXGuidance.from_pretrained(d, prompt_embeds=torch.randn(1, 16, 32, generator=torch.Generator().manual_seed(1)),
                                          torch_dtype=torch.float32, cfg=CogVideoXGuidanceConfig(guidance_scale=7.5),
                                          generator=torch.Generator().manual_seed(0))
    assert g.vae.is_gradient_checkpointing  # §4.3
    rig = load_asset(shared_data / "rigged" / "Fox" / "Fox.glb").rig
    kin = KinematicRig(rig)
    sg = SkinnedGaussians.from_rig(kin, 300)
    # one SDS step of the full loop: 9 frames at 32x32 (multiples of 16)
    cfg = DistillConfig(iterations=1, frames=9, width=32, height=32, n_gaussians=300)
    from sdk.motion.distill import initial_params
    from sdk.motion.kinematics import MotionParams
    from sdk.motion.render import render_motion
    p0 = initial_params(kin, cfg)
    ang = p0.angles.clone().requires_grad_(True)
    video, _ = render_motion(kin, sg, MotionParams(ang, p0.root), size=(32, 32))
    loss = g.loss(video.permute(3, 0, 1, 2)[None], 0)
    loss.backward()
    assert g.last_input_shape == (1, (9 - 1) // 4 + 1, 4, 4, 4)  # [B, T_lat, C, h, w]
    assert torch.isfinite(ang.grad).all() and float(ang.grad.abs().sum()) > 0
    # the distillation loop itself runs and logs the three terms
    out, log = distill(kin, g, cfg, gaussians=sg)
    assert len(log) == 1 and all(np.isfinite(v) for v in log[0].values())
    # bad frame counts / sizes are one clear error
    with pytest.raises(InvalidInputError, match="4k\\+1"):
        g.encode(torch.zeros(1, 3, 8, 32, 32))
    with pytest.raises(InvalidInputError, match="multiples of 16"):
        g.encode(torch.zeros(1, 3, 9, 24, 32))
