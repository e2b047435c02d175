"""Multi-view videos of animated assets under fixed camera protocols (ground truth for 4D reconstruction).

Protocols (all look at the origin; the clip is normalised so that its bounding box over *all* frames is centred
at the origin with its longest side = ``extent``):

* ``paper4``: Track4DGen / Animate3D -- azimuth 0/90/180/270 deg, elevation 15 deg, radius 3.0, fovy 40 deg;
* ``dense24``: 24 views on a Fibonacci sphere (elevation limited to [-30, 75] deg), radius 3.0, fovy 40 deg;
* ``test``: held-out views -- azimuth 45/135/225/315 deg at elevation 15 deg and at elevation 30 deg.

``extent`` = 1 (a unit bounding box) is the spec's reading; Animate3D's own normalisation was not checked.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.multiview import MultiViewVideo
from ..errors import InvalidInputError
from .camera import Camera, orbit_cameras
from .raster import render_mesh

PROTOCOLS = ("paper4", "dense24", "test")
RADIUS = 3.0
FOVY_DEG = 40.0


def protocol_angles(protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth, elevation) in radians for a named protocol."""
    if protocol == "paper4":
        return np.radians([0.0, 90.0, 180.0, 270.0]), np.radians([15.0] * 4)
    if protocol == "dense24":
        n = 24
        i = np.arange(n) + 0.5
        lo, hi = math.sin(math.radians(-30.0)), math.sin(math.radians(75.0))
        y = lo + (hi - lo) * i / n  # uniform in sin(elevation) = uniform area on the sphere band
        az = np.mod(i * math.pi * (3.0 - math.sqrt(5.0)), 2 * math.pi)
        return az, np.arcsin(y)
    if protocol == "test":
        az = np.radians([45.0, 135.0, 225.0, 315.0])
        return np.concatenate([az, az]), np.radians([15.0] * 4 + [30.0] * 4)
    raise InvalidInputError(f"unknown camera protocol {protocol!r}; choose one of {PROTOCOLS}", field="protocol")


def protocol_cameras(protocol: str, size: int = 256, device="cpu") -> Camera:
    az, el = protocol_angles(protocol)
    return orbit_cameras(az, el, radius=RADIUS, fov_deg=FOVY_DEG, width=size, device=device)


def normalise_clip(vertices: np.ndarray, extent: float = 1.0) -> tuple[np.ndarray, np.ndarray, float]:
    """vertices [T, V, 3] -> (normalised vertices, centre [3], scale): v' = (v - centre) * scale."""
    lo, hi = vertices.reshape(-1, 3).min(0), vertices.reshape(-1, 3).max(0)
    centre = (lo + hi) / 2
    scale = extent / max(float((hi - lo).max()), 1e-12)
    return (vertices - centre) * scale, centre, scale


def frame_indices(n_clip_frames: int, n_frames: int, in_between: bool = False) -> np.ndarray:
    """Training frames: n_frames evenly spaced clip frames; in_between: the midpoints of consecutive ones."""
    if n_frames < 2:
        raise InvalidInputError(f"need at least 2 frames, got {n_frames}", field="frames")
    if n_clip_frames < n_frames:
        raise InvalidInputError(f"the clip has {n_clip_frames} frames, fewer than the {n_frames} asked for",
                                field="frames")
    idx = np.linspace(0, n_clip_frames - 1, n_frames)
    if in_between:
        idx = (idx[:-1] + idx[1:]) / 2
    return idx


def sample_frames(clip_vertices: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Linear interpolation of [F, V, 3] at fractional frame indices idx [T] -> [T, V, 3]."""
    i0 = np.floor(idx).astype(int).clip(0, len(clip_vertices) - 1)
    i1 = np.minimum(i0 + 1, len(clip_vertices) - 1)
    u = (idx - i0)[:, None, None]
    return (1 - u) * clip_vertices[i0] + u * clip_vertices[i1]


def render_sequence_views(vertices: np.ndarray, faces: np.ndarray, cameras: Camera, *, times: np.ndarray,
                          vertex_colors=None, uvs=None, texture=None, textured=None, lit: bool = False,
                          background: float = 0.5, supersample: int = 2, fps: float = 30.0, name: str = "views",
                          view_names=None, meta: dict | None = None, progress=None) -> MultiViewVideo:
    """Render normalised frames [T, V, 3] into every camera -> MultiViewVideo (rgb on ``background`` + masks).

    lit=False renders the base colour (ambient 1, "unlit"); lit=True adds the renderer's camera-fixed Lambert
    light (ambient 0.35), so appearance varies with view and time.
    """
    t, nv = len(vertices), len(cameras)
    frames = np.zeros((nv, t, cameras.height, cameras.width, 3), np.float32)
    masks = np.zeros((nv, t, cameras.height, cameras.width), np.float32)
    for k in range(t):
        r = render_mesh(vertices[k], faces, cameras, vertex_colors=vertex_colors, uvs=uvs, texture=texture,
                        textured=textured, ambient=0.35 if lit else 1.0, background=background,
                        supersample=supersample)
        frames[:, k] = r.rgb.cpu().numpy()
        masks[:, k] = r.coverage.cpu().numpy()
        if progress is not None:
            progress((k + 1) / t, f"frame {k + 1}/{t}")
    return MultiViewVideo(frames, masks, cameras.world_to_cam.cpu().numpy(), cameras.focal.cpu().numpy(),
                          np.asarray(times, dtype=np.float64), fps=fps, background=background,
                          view_names=list(view_names or []), name=name, meta=dict(meta or {}))


def render_asset_views(asset, clip: str | None = None, *, protocol: str = "paper4", n_frames: int = 16,
                       size: int = 256, in_between: bool = False, lit: bool = False, supersample: int = 2,
                       extent: float = 1.0, background: float = 0.5, device="cpu", progress=None):
    """Render an animated asset's clip under a protocol.

    Returns (MultiViewVideo, gt) where gt = dict(vertices [T, V, 3] normalised, faces, canonical [V, 3] = frame 0
    of the training frames, centre, scale). Times are normalised so the training frames span [0, 1];
    ``in_between`` renders the midpoints between training frames instead (held-out times).
    """
    if asset.rig is None or not asset.rig.animations:
        raise InvalidInputError("the asset has no animation clip to render", field="clip", source=str(asset.path))
    try:
        anim = asset.rig.animation(clip)
    except KeyError as e:
        raise InvalidInputError(str(e).strip("'\""), field="clip", source=str(asset.path)) from None
    clip_v = asset.rig.pose(anim.world_matrices(asset.rig.skeleton.parents))  # [F, V, 3]
    train_idx = frame_indices(len(clip_v), n_frames)
    idx = frame_indices(len(clip_v), n_frames, in_between=True) if in_between else train_idx
    _, centre, scale = normalise_clip(sample_frames(clip_v, train_idx), extent)
    verts = (sample_frames(clip_v, idx) - centre) * scale
    times = (idx - train_idx[0]) / (train_idx[-1] - train_idx[0])
    ap = asset.appearance
    kw = {}
    if ap is not None:
        kw = dict(vertex_colors=ap.vertex_colors, uvs=ap.uvs if ap.texture is not None else None,
                  texture=ap.texture, textured=ap.textured if ap.texture is not None else None)
    cams = protocol_cameras(protocol, size, device)
    az, el = protocol_angles(protocol)
    names = [f"{protocol}_{i:02d}_az{math.degrees(a):.0f}_el{math.degrees(e):.0f}" for i, (a, e) in enumerate(zip(az, el))]
    meta = dict(protocol=protocol, clip=anim.name, frame_indices=idx.tolist(), centre=centre.tolist(),
                scale=float(scale), extent=extent, lit=lit, supersample=supersample, radius=RADIUS,
                fovy_deg=FOVY_DEG)
    step = (train_idx[-1] - train_idx[0]) / (len(train_idx) - 1)  # clip frames per rendered frame
    video = render_sequence_views(verts, asset.mesh.faces, cams, times=times, lit=lit, background=background,
                                  supersample=supersample, fps=anim.fps / step, name=f"{asset.mesh.name}_{anim.name}", view_names=names, meta=meta,
                                  progress=progress, **kw)
    video.source = str(asset.path)
    canonical = (sample_frames(clip_v, train_idx[:1]) - centre)[0] * scale
    gt = dict(vertices=verts, faces=asset.mesh.faces, canonical=canonical, centre=centre, scale=scale,
              vertex_colors=None if ap is None else ap.vertex_colors)
    return video, gt
