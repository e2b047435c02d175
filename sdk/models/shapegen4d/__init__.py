"""ShapeGen4D (paper 003) building blocks, real and tested without weights: the VecSet VAE (Step1X-3D layout) with
temporally aligned queries, the FLUX-style DiT with spatiotemporal layers, the rectified-flow loss and sampler, grid
decode + marching cubes, and checkpoint loaders (Step1X-3D VAE/transformer, Hunyuan3D-2 DiT)."""
from .dit import DiTConfig, ShapeDiT
from .extract import extract_mesh
from .sampler import noise_like, rf_loss, rf_sample, sigma_grid, to_hunyuan
from .tiny import TinyConfig, TinyShapeGen4D, load_tiny, save_tiny
from .vae import VAEConfig, VecSetVAE, farthest_point_sampling

__all__ = ["DiTConfig", "ShapeDiT", "VAEConfig", "VecSetVAE", "extract_mesh", "farthest_point_sampling",
           "noise_like", "rf_loss", "rf_sample", "sigma_grid", "to_hunyuan", "TinyConfig", "TinyShapeGen4D", "load_tiny",
           "save_tiny"]
