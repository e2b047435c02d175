"""The MV-VDM that Track4DGen builds on (Animate3D: MVDream SD-1.5 multi-view 3-D attention with a camera
embedding + AnimateDiff motion modules + the MV2V adapter), on diffusers blocks.

* ``unet``: ``MVVDMConfig`` (``full()`` / ``tiny()``), ``MVVDMUNet`` (forward on ``[B, N, F, C, H, W]``), the
  Animate3D attention processors and ``DDPMSchedule`` (epsilon prediction);
* ``checkpoint``: strict loaders + inverse maps for MVDream (ldm ``sd-v1.5-4view.pt`` and diffusers layouts), the
  AnimateDiff ``MotionAdapter`` and Animate3D's ``animate3d_motion_modules.ckpt`` (IP-Adapter keys included);
* ``ip_adapter``: the IP-Adapter image conditioning's files: ``h94/IP-Adapter`` ``ip-adapter_sd15.bin`` and its
  CLIP ViT-H/14 image encoder (transformers ``CLIPVisionModelWithProjection``, optional extra ``ipadapter``);
* ``tracking``: Track4DGen's stage-1 objective L1 = l1 L_diff + l2 L_corr + l3 L_pos on features hooked from
  ``up_blocks[1]``'s motion module;
* ``attention``: the stand-alone MVDream processor for plain ``UNet2DConditionModel``s (views innermost).
"""
from .attention import CameraEmbedding, MultiViewAttnProcessor, set_multiview_attention
from .ip_adapter import encode_images, encode_views, load_image_encoder, load_ip_adapter
from .unet import DDPMSchedule, MVVDMConfig, MVVDMUNet

__all__ = ["CameraEmbedding", "MultiViewAttnProcessor", "set_multiview_attention", "DDPMSchedule", "MVVDMConfig",
           "MVVDMUNet", "encode_images", "encode_views", "load_image_encoder", "load_ip_adapter"]
