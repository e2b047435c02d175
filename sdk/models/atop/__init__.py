"""ATOP's personalized multi-view part-motion model (paper 001 §4.2) and its transfer to 3D (§4.3).

``unet.ATOPUNet`` (ImageDream SD2.1 4-view UNet inflated for video, Eq. 2/3, camera conditioning),
``motion.MotionModule`` (sparse first-frame attention, mask FiLM, Eq. 4), ``checkpoint`` (ImageDream layout),
``pipeline`` (personalization, 50-step CFG-5 sampling), ``sds`` (per-frame Gaussians, fuzzy-metaball latent
renderer, Eq. 7), ``openclip`` (ImageDream's OpenCLIP ViT-H-14 text/image encoders, open_clip key layout),
``dataset`` / ``train`` / ``transfer`` (the small model trained here on procedural props: 4-view x 10-frame
renders, base + per-category personalization, batched SDS), ``prior.ATOPDiffusionBackend`` (the diffusion back end of ``sdk.articulation``'s motion prior;
importing ``sdk.models.atop.prior`` registers it). Heavy imports (diffusers) happen inside the modules that need
them; see docs/articulation.md.
"""
