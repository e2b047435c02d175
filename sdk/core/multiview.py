"""Multi-view videos with cameras: the input of 4D reconstruction. A leaf data type (numpy, no IO).

Cameras follow ``sdk.render.camera`` (OpenGL: a camera looks down -Z, +Y up; pixels (u right, v down), centres at
+0.5; principal point at the image centre).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInputError


@dataclass
class MultiViewVideo:
    frames: np.ndarray  # [V, T, H, W, 3] float32 in [0, 1], composited on ``background``
    masks: np.ndarray  # [V, T, H, W] float32 in [0, 1] (alpha matte / coverage)
    world_to_cam: np.ndarray  # [V, 4, 4] float64, OpenGL convention
    focal: np.ndarray  # [V] float64, pixels
    times: np.ndarray  # [T] float64, normalised to [0, 1] over the clip
    fps: float = 30.0
    background: float = 0.5
    view_names: list[str] = field(default_factory=list)
    name: str = "views"
    source: str | None = None
    meta: dict = field(default_factory=dict)  # protocol, normalisation (centre, scale), clip, frame indices

    def __post_init__(self):
        self.frames = np.asarray(self.frames, dtype=np.float32)
        self.masks = np.asarray(self.masks, dtype=np.float32)
        self.world_to_cam = np.asarray(self.world_to_cam, dtype=np.float64).reshape(-1, 4, 4)
        self.focal = np.asarray(self.focal, dtype=np.float64).reshape(-1)
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        if not self.view_names:
            self.view_names = [f"view_{i:02d}" for i in range(len(self.world_to_cam))]

    @property
    def n_views(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[1])

    @property
    def height(self) -> int:
        return int(self.frames.shape[2])

    @property
    def width(self) -> int:
        return int(self.frames.shape[3])

    def validate(self, *, min_frames: int = 2) -> "MultiViewVideo":
        """Raise InvalidInputError naming the view / frame / field at fault; returns self."""
        src = self.source
        if self.frames.ndim != 5 or self.frames.shape[-1] != 3:
            raise InvalidInputError(f"frames must be [V, T, H, W, 3], got {tuple(self.frames.shape)}", field="frames",
                                    source=src)
        v, t, h, w = self.frames.shape[:4]
        if v == 0:
            raise InvalidInputError("no views", field="views", source=src)
        if t < min_frames:
            raise InvalidInputError(f"a {t}-frame video cannot show motion (need >= {min_frames} frames)",
                                    field="frames", source=src)
        if self.masks.shape != (v, t, h, w):
            raise InvalidInputError(f"masks must be {(v, t, h, w)}, got {tuple(self.masks.shape)}", field="masks",
                                    source=src)
        if len(self.world_to_cam) != v or len(self.focal) != v:
            raise InvalidInputError(f"{len(self.world_to_cam)} camera poses and {len(self.focal)} focals for {v} views",
                                    field="cameras", source=src)
        if len(self.view_names) != v:
            raise InvalidInputError(f"{len(self.view_names)} view names for {v} views", field="views", source=src)
        if len(self.times) != t:
            raise InvalidInputError(f"{len(self.times)} times for {t} frames", field="times", source=src)
        for i in range(v):
            if not (np.isfinite(self.world_to_cam[i]).all() and np.isfinite(self.focal[i]) and self.focal[i] > 0):
                raise InvalidInputError(f"camera of view {i} ({self.view_names[i]}) is not finite or has focal <= 0",
                                        field=f"cameras[{i}]", source=src)
            r = self.world_to_cam[i, :3, :3]
            if np.abs(r @ r.T - np.eye(3)).max() > 1e-4 or np.abs(self.world_to_cam[i, 3] - [0, 0, 0, 1]).max() > 1e-6:
                raise InvalidInputError(f"camera of view {i} ({self.view_names[i]}) is not a rigid transform",
                                        field=f"cameras[{i}]", source=src)
        if not np.isfinite(self.times).all() or (np.diff(self.times) <= 0).any():
            raise InvalidInputError("frame times must be finite and increasing", field="times", source=src)
        if not np.isfinite(self.frames).all():
            i = np.argwhere(~np.isfinite(self.frames))[0]
            raise InvalidInputError(f"view {int(i[0])} frame {int(i[1])} has non-finite pixels",
                                    field=f"frames[{int(i[0])}][{int(i[1])}]", source=src)
        cover = self.masks.reshape(v, t, -1).max(-1)
        empty = np.argwhere(cover < 0.5)
        if len(empty):
            i, j = (int(x) for x in empty[0])
            raise InvalidInputError(f"view {i} ({self.view_names[i]}) frame {j} has an empty mask (the object is not "
                                    f"visible)", field=f"masks[{i}][{j}]", source=src)
        return self
