"""The diffusion back end of ``sdk.articulation``'s motion prior (ATOP §4.2–§4.3).

``ATOPDiffusionBackend.propose(part_points, body_points, hint, up)``:

1. normalizes the object (centre, unit diagonal, up -> +Y), renders the rest state I_r and the first-frame part
   masks B from ATOP's four fixed views (azimuth 45/135/225/315, elevation 30; §5.1) with the point renderer;
2. encodes the prompt τ and the rest views (``encoders``: ``openclip.OpenCLIPEncoders`` — OpenCLIP ViT-H-14,
   ImageDream's — for the public model; ``WeightFreeEncoders``, fixed random projections, for the small model
   trained here and the tests);
3. distils the personalized model ψ* into per-frame Gaussians with SDS (Eq. 7, ``sds.py``);
4. returns the per-frame articulated clouds (frames 2..Nf, back in object coordinates) as the prior's states,
   which ``axis_search.atop_search`` (7 x 6 OBB candidates, §4.3.2) turns into a joint.

Importing this module registers the back end with ``sdk.articulation.prior`` (``register_diffusion_backend``).
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from ...articulation.prior import MotionPrior, PriorResult, register_diffusion_backend
from .pipeline import MotionCondition, make_scheduler, predict_eps
from .sds import FrameGaussians, SDSConfig, camera_condition, orbit_cameras, render_features, sds_optimize


class WeightFreeEncoders:
    """Text and rest-view encoders without weights (ours; for the small model and tests): a word's embedding is a
    fixed random vector seeded by its hash; a view's features are 4x4 patch means through a fixed random
    projection to ``clip_dim`` (in place of OpenCLIP ViT-H's 257 penultimate tokens)."""

    def __init__(self, context_dim: int, clip_dim: int, max_words: int = 8, seed: int = 0):
        self.context_dim, self.clip_dim, self.max_words = context_dim, clip_dim, max_words
        g = torch.Generator().manual_seed(seed)
        self.proj = torch.randn(3 * 16, clip_dim, generator=g) / 7.0

    def encode_text(self, prompt: str | None) -> torch.Tensor:  # -> [1, T, context_dim]
        words = (prompt or "").lower().split()[: self.max_words]
        out = torch.zeros(1, self.max_words, self.context_dim)
        for i, w in enumerate(words):
            seed = int(hashlib.sha1(w.encode()).hexdigest()[:8], 16)
            out[0, i] = torch.randn(self.context_dim, generator=torch.Generator().manual_seed(seed))
        return out

    def encode_views(self, images: torch.Tensor) -> torch.Tensor:  # [Nv, 3, H, W] -> [1, Nv, 16, clip_dim]
        Nv = images.shape[0]
        p = torch.nn.functional.adaptive_avg_pool2d(images, 4)  # [Nv, 3, 4, 4]
        tok = p.permute(0, 2, 3, 1).reshape(Nv, 16, 3)  # 16 patches
        tok = torch.cat([tok.repeat(1, 1, 16)], -1)  # [Nv, 16, 48]
        return (tok @ self.proj)[None]


class ATOPDiffusionBackend(MotionPrior):
    name = "diffusion"

    def __init__(self, model, encoders, sds: SDSConfig | None = None, elevation: float = 30.0,
                 image_size: int = 64, scheduler=None):
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.encoders = encoders
        self.sds = sds or SDSConfig(latent_size=model.cfg.latent_size)
        self.elevation = elevation
        self.image_size = image_size
        self.scheduler = scheduler or make_scheduler()

    @classmethod
    def from_weights(cls, weights_dir, category: str):
        """The public model: ImageDream + the personalized motion module of ``category`` + OpenCLIP ViT-H-14
        (``openclip.py``). Every file is checked before anything is built: a missing one is one
        ``MissingWeightsError`` naming it."""
        from pathlib import Path
        from ...errors import MissingWeightsError
        from .checkpoint import load_imagedream, load_motion_module
        from .openclip import VOCAB_FILE, WEIGHTS_FILE, OpenCLIPEncoders
        from .unet import ATOPConfig, ATOPUNet
        wd = Path(weights_dir)
        files = ["imagedream/sd-v2.1-base-4view-ipmv.pt", f"atop/motion_module_{category}.safetensors", WEIGHTS_FILE,
                 VOCAB_FILE]
        for f in files:
            if not (wd / f).is_file():
                raise MissingWeightsError("atop", f, str(wd))
        encoders = OpenCLIPEncoders.from_weights_dir(wd)
        model = ATOPUNet(ATOPConfig.full())
        load_imagedream(model, wd / files[0])
        load_motion_module(model, wd / files[1])
        return cls(model, encoders, image_size=256)

    def propose(self, part_points, body_points, hint, up=None, scene=None) -> PriorResult:
        cfg, mcfg = self.sds, self.model.cfg
        rng = np.random.default_rng(cfg.seed)
        part = np.asarray(part_points, np.float64)
        body = np.asarray(body_points, np.float64)
        allp = np.vstack([part, body]) if len(body) else part
        c0 = (allp.min(0) + allp.max(0)) / 2
        scale = max(float(np.linalg.norm(allp.max(0) - allp.min(0))), 1e-12)
        R = _up_to_y(up)
        norm = lambda x: ((x - c0) / scale) @ R.T  # noqa: E731
        dyn = norm(part[rng.choice(len(part), cfg.n_dynamic, replace=len(part) < cfg.n_dynamic)])
        sta = norm(body[rng.choice(len(body), cfg.n_static, replace=len(body) < cfg.n_static)]) if len(body) \
            else np.zeros((0, 3))
        c2w_np = orbit_cameras(mcfg.num_views, self.elevation, radius=2.2)
        c2w = torch.as_tensor(c2w_np, dtype=torch.float32)
        # rest-state views I_r (grey body, reddish part) and first-frame part masks B
        pts = torch.as_tensor(np.vstack([sta, dyn]), dtype=torch.float32)
        col = torch.tensor([[0.7, 0.7, 0.7, 0.0]]).repeat(len(pts), 1)
        col[len(sta):] = torch.tensor([0.9, 0.3, 0.3, 1.0])
        sigma = 0.02
        with torch.no_grad():
            img, alpha = render_features(pts, col, sigma, c2w, size=self.image_size, fov_deg=cfg.fov_deg)
        views = img[:, :3] + (1 - alpha[:, None])  # white background, [Nv, 3, H, W]
        mask = (img[:, 3:4] > 0.5).float()[None]  # [1, Nv, 1, H, W]
        cond = MotionCondition(text=self.encoders.encode_text(hint.text if hint else None),
                               camera=camera_condition(c2w_np)[None], mask=mask,
                               clip_features=self.encoders.encode_views(views))

        def eps_fn(z_t, t):
            return predict_eps(self.model, z_t, t, cond, cfg.guidance)

        gs = FrameGaussians(sta, dyn, mcfg.num_frames, channels=mcfg.in_channels, move_static=cfg.move_static,
                            seed=cfg.seed)
        sds_optimize(gs, eps_fn, c2w, self.scheduler, cfg)
        clouds = gs.clouds()
        back = lambda x: (x @ R) * scale + c0  # noqa: E731
        states = [back(c) for c in clouds[1:]]
        return PriorResult(states, [], "diffusion")


def _up_to_y(up) -> np.ndarray:
    """Rotation taking the object's up axis onto +Y (the renderer's up)."""
    if up is None:
        return np.eye(3)
    u = np.asarray(up, float) / np.linalg.norm(up)
    y = np.array([0.0, 1.0, 0.0])
    v = np.cross(u, y)
    c = float(np.dot(u, y))
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    K = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + K + K @ K / (1 + c)


register_diffusion_backend(lambda weights_dir, category: ATOPDiffusionBackend.from_weights(weights_dir, category))
