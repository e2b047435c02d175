"""The SP4D view layout shared by training and inference: the data config, orbit cameras, camera inputs and the
frame normalisation (so inference never imports the training module)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...geometry.bbox import normalize_to_unit_box
from ...render import orbit_cameras


@dataclass
class DataConfig:
    views: int = 4
    frames: int = 4
    res: int = 64
    radius: float = 2.4
    fov_deg: float = 40.0
    static_prob: float = 0.2
    uniform_color_prob: float = 0.3


def view_cameras(az0: float, elevation: float, dc: DataConfig, device="cpu"):
    """V orbit views at az0 + 2*pi*k/V, each repeated for T frames, in (v, t) order."""
    az = az0 + 2 * np.pi * np.arange(dc.views) / dc.views
    az = np.repeat(az, dc.frames)
    return orbit_cameras(az, elevation, radius=dc.radius, fov_deg=dc.fov_deg, width=dc.res, device=device)


def camera_inputs(elevation: float, dc: DataConfig) -> np.ndarray:
    """(polar, azimuth relative to view 0) per view -> [V, 2]"""
    return np.stack([np.full(dc.views, np.pi / 2 - elevation), 2 * np.pi * np.arange(dc.views) / dc.views], 1)


def normalize_frames(verts: np.ndarray) -> np.ndarray:
    """[T, V, 3] -> centred on the all-frames bounding box, longest side 1."""
    return normalize_to_unit_box(verts)
