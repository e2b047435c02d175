"""The rig-from-motion report: one typed record instead of a 21-key dict, JSON-encoded once (``to_json_dict``).

Reads like the dict it replaces (``report["rmse_pct"]``, ``report.keys()``), so scripts written against the dict
keep working; ``parts`` (the :class:`~sdk.motionrig.parts.KinematicParts` of the over-segmentation) stays in memory
and never goes to JSON or over the wire.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class MotionReport(Mapping):
    per_frame_rmse: list[float]        # [T] replay RMSE of the exported rig, per frame (model units)
    rmse: float                        # over every frame and vertex
    rmse_pct: float                    # % of the bbox diagonal
    max_error_pct: float
    rigid_rmse_pct: float              # per-part rigid fit of the kinematic parts (the SSDR initialisation)
    bbox_diagonal: float
    n_frames: int
    n_vertices: int
    n_welded: int
    n_parts_init: int                  # parts after the over-segmentation
    n_parts_fine: int                  # after fine merging
    n_bones: int
    ssdr_vertices: int                 # vertices the skinning decomposition ran on
    ssdr_rmse_history: list[float]
    merges: list                       # (kept, absorbed, relative displacement) in merge order
    pruned_bones: int
    joints: list[dict]                 # name, parent, type, axis, origin, limits, confidence (as rig.metadata["joints"])
    timings: dict[str, float]
    device: str
    parts: Any = field(default=None, repr=False)  # KinematicParts: in memory only, never serialised

    # -------------------------------------------------------------- the dict view (for code written against it)
    def __getitem__(self, key: str):
        if key in self._names():
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def to_json_dict(self) -> dict:
        """Everything but ``parts``, as JSON-ready Python values (numpy scalars/arrays converted)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "parts"}


def _plain(v):
    import numpy as np
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
