"""Articulation previews (GIF sweep / PNG grid): drawn by the one preview module, ``sdk.render.preview``, with
``Articulation.link_transforms`` (the PIL painter that lived here is gone). Old names kept."""
from __future__ import annotations

from pathlib import Path

from ..core import Articulation
from ..render.preview import render_articulation, write_articulation_preview


def preview_frames(art: Articulation, *, frames_per_joint: int = 8, size: int = 256, up: str = "y"):
    """Frames (PIL images) sweeping each movable joint from its lower to its upper limit and back."""
    from ..render.preview import _sweep
    poses = [{j.name: float(a)} for j in art.movable_joints() for a in _sweep(j, frames_per_joint)] or [{}]
    return render_articulation(art, poses, size=size, up=up)


def write_preview(art: Articulation, path, *, size: int = 256, up: str = "y", frames_per_joint: int = 8) -> Path:
    return write_articulation_preview(art, path, size=size, up=up, frames_per_joint=frames_per_joint)
