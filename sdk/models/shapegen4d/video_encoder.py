"""From-scratch silhouette/depth-video encoder for the tiny ShapeGen4D (ours: it stands in for DINOv2-with-registers,
which ShapeGen4D uses frozen at 518^2 and which cannot be downloaded here).

Each frame's [silhouette, depth] image (``[B, T, 2, H, W]``, depth 0 outside the silhouette) goes through a small
strided CNN to an ``S = (H / 8)^2`` grid of tokens plus one learned positional embedding per grid cell, giving the DiT's
condition tokens ``[B, T, S, cond_dim]`` (the DINOv2 patch tokens' role). Frames are encoded independently, as the
paper encodes each video frame independently. Depth is dropped (zeroed) at random in training
(``depth_dropout`` in the training config) so the model also runs on silhouette-only input (an RGB video, whose
background is thresholded away).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor


@dataclass
class VideoEncoderConfig:
    in_channels: int = 2  # silhouette, depth
    image_res: int = 48
    channels: tuple = (32, 64, 96)
    cond_dim: int = 64


class VideoEncoder(nn.Module):
    def __init__(self, cfg: VideoEncoderConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or VideoEncoderConfig()
        layers, c = [], cfg.in_channels
        for co in cfg.channels:
            layers += [nn.Conv2d(c, co, 3, stride=2, padding=1), nn.GroupNorm(8, co), nn.SiLU(),
                       nn.Conv2d(co, co, 3, padding=1), nn.GroupNorm(8, co), nn.SiLU()]
            c = co
        self.net = nn.Sequential(*layers)
        side = cfg.image_res // 2 ** len(cfg.channels)
        self.proj = nn.Linear(c, cfg.cond_dim)
        self.pos = nn.Parameter(torch.randn(side * side, cfg.cond_dim) * 0.02)

    @property
    def num_tokens(self) -> int:
        return self.pos.shape[0]

    def forward(self, video: Tensor) -> Tensor:  # [B, T, C, H, W] -> [B, T, S, cond_dim]
        B, T = video.shape[:2]
        f = self.net(video.flatten(0, 1))  # [B*T, c, h, w]
        tok = self.proj(f.flatten(2).transpose(1, 2)) + self.pos
        return tok.view(B, T, *tok.shape[1:])
