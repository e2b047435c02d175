"""Training and evaluation data for the small ATOP model: procedural props rendered with ``sdk.render``.

A *sample* is one movable part of one object moving along its true joint (ATOP §4.2.5's personalization videos,
§5.1's views): 4 views (azimuth 45/135/225/315°, elevation 30°, radius 2.2, 40° FOV: ``sds.orbit_cameras``) ×
10 frames, frame 1 the rest state, frame k the joint at ``(k-1)/(Nf-1)`` of the motion amount. Each sample holds

* ``latents`` uint8 [Nv, Nf, 4, h, w] — the small model's "latent": premultiplied RGBA at the latent resolution
  (ours: the small model has no VAE, a 4-channel pixel space at 32² plays the latent; ``decode_latents`` maps
  it to [-1, 1], background -1), area-pooled from a 2×-supersampled ``render_mesh`` at ``image_size``;
* ``mask`` uint8 [Nv, 1, H, W] — the first-frame part mask B (the part and its descendants);
* ``views`` uint8 [Nv, 3, H, W] — the rest-state views I_r on white (the image condition);
* ``camera`` float32 [Nv, 16] — flattened camera-to-world matrices (ImageDream's camera input);
* ``prompt`` — the part's motion prompt (``sdk.procedural.props.prop_prompts``), ``category``;
* ground truth: ``joint_type``, ``origin``, ``axis`` (object frame) and ``amount``; the normalization
  ``center``/``scale`` (object → unit-diagonal frame centred at the origin, +Y up).

``condition_pack`` builds the same conditioning (views, mask, camera, prompt) for a mesh at evaluation time, plus
the static/dynamic surface points the SDS transfer starts from (§4.4.3: 2,048 + 2,048).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...geometry.sampling import sample_surface_faces
from .sds import orbit_cameras

MOVING_TYPES = ("revolute", "prismatic")


@dataclass
class DatasetConfig:
    num_views: int = 4  # ATOP §5.1
    num_frames: int = 10  # ATOP §5.1
    image_size: int = 64  # ours: rest views / masks (the image condition)
    latent_size: int = 32  # ours: the small model's latent resolution (ImageDream: 32 for 256² images)
    elevation: float = 30.0  # ATOP §5.1
    radius: float = 2.2  # ours: a unit-diagonal object fills ~60% of a 40° view
    fov_deg: float = 40.0
    max_angle: float = np.pi / 2  # ours: revolute motion amount cap (rad)
    min_fraction: float = 0.6  # ours: amount drawn in [min_fraction, 1] x the reachable limit
    n_static: int = 2048  # §4.4.3 (condition packs)
    n_dynamic: int = 2048  # §4.4.3


def normalization(vertices: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre of the bounding box and its diagonal: x_n = (x - centre) / scale."""
    lo, hi = vertices.min(0), vertices.max(0)
    return (lo + hi) / 2, max(float(np.linalg.norm(hi - lo)), 1e-12)


def cameras(cfg: DatasetConfig, count: int = 1):
    """``sdk.render`` cameras equal to ``sds.orbit_cameras`` (the SDS renderer's), repeated ``count`` times (frames
    major: index = frame * Nv + view), and the c2w matrices [Nv, 4, 4]."""
    from ...render.camera import orbit_cameras as render_orbit
    az = np.deg2rad(45.0 + 360.0 * np.arange(cfg.num_views) / cfg.num_views)
    az = np.tile(az, count)
    cam = render_orbit(az, np.deg2rad(cfg.elevation), radius=cfg.radius, fov_deg=cfg.fov_deg, width=cfg.image_size)
    return cam, orbit_cameras(cfg.num_views, cfg.elevation, cfg.radius)


def motion_amount(part, rng, cfg: DatasetConfig, diag: float) -> float:
    """How far the part moves by the last frame, along its true joint (object units / radians)."""
    lo, hi = (float(x) for x in part.limits)
    if part.joint == "revolute":
        lo, hi = max(lo, -cfg.max_angle), min(hi, cfg.max_angle)
    else:
        cap = 0.5 * diag
        lo, hi = max(lo, -cap), min(hi, cap)
    sides = [s for s in (hi, lo) if abs(s) > 1e-9]
    if not sides:
        return 0.0
    s = sides[0] if len(sides) == 1 or rng.random() < 0.5 else sides[1]
    return float(s * rng.uniform(cfg.min_fraction, 1.0))


def _subtree(obj, idx: int) -> list[int]:
    out, stack = [], [idx]
    while stack:
        n = stack.pop()
        out.append(n)
        stack += [i for i, p in enumerate(obj.parts) if p.parent == n]
    return out


def _encode(rgb_premult, alpha) -> np.ndarray:
    """[N, h, w, 3] premultiplied rgb, [N, h, w] alpha in [0, 1] -> uint8 [N, 4, h, w]."""
    x = np.concatenate([rgb_premult, alpha[..., None]], -1).transpose(0, 3, 1, 2)
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def decode_latents(x) -> "np.ndarray":
    """uint8 latents -> float in [-1, 1] (background -1). Works on numpy arrays and torch tensors."""
    return x / 127.5 - 1.0


def render_views(vertices: np.ndarray, faces: np.ndarray, face_colors: np.ndarray, moving: np.ndarray,
                 cfg: DatasetConfig) -> dict:
    """Render normalized posed vertices [Nf, V, 3] into the 4 views. moving: [F] bool (the part and descendants).
    Returns latents uint8 [Nv, Nf, 4, h, w], mask uint8 [Nv, 1, H, W], views uint8 [Nv, 3, H, W]."""
    from ...render.raster import render_mesh
    nf, nv, H, h = len(vertices), cfg.num_views, cfg.image_size, cfg.latent_size
    cam, _ = cameras(cfg, nf)
    verts = np.repeat(np.asarray(vertices, np.float32), nv, axis=0)  # [Nf*Nv, V, 3], frame major
    res = render_mesh(verts, faces, cam, face_colors=face_colors, face_labels=moving.astype(np.int64),
                      background=0.0, supersample=2)
    rgb = res.rgb.numpy()  # [N, H, W, 3] premultiplied (background 0)
    cov = res.coverage.numpy()  # [N, H, W]
    k = H // h
    pool = lambda a: a.reshape(a.shape[0], h, k, h, k, *a.shape[3:]).mean((2, 4))  # noqa: E731
    lat = _encode(pool(rgb), pool(cov)).reshape(nf, nv, 4, h, h).transpose(1, 0, 2, 3, 4)
    first = slice(0, nv)
    mask = (res.labels[first].numpy() == 1).astype(np.uint8)[:, None]  # [Nv, 1, H, W]
    views = rgb[first] + (1 - cov[first])[..., None]  # on white
    views = np.clip(np.rint(views * 255), 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)
    return dict(latents=lat, mask=mask, views=views)


def render_sample(obj, part_index: int, cfg: DatasetConfig, rng, amount: float | None = None) -> dict:
    """One training/evaluation video of ``obj.parts[part_index]`` moving along its true joint."""
    from ...procedural.props import prop_prompts
    part = obj.parts[part_index]
    if part.joint not in MOVING_TYPES:
        raise ValueError(f"part {part.name!r} of {obj.name} does not move ({part.joint})")
    m = obj.mesh()
    center, scale = normalization(m.vertices)
    amt = motion_amount(part, rng, cfg, 1.0 * scale) if amount is None else float(amount)
    q = np.zeros((cfg.num_frames, obj.num_parts))
    q[:, part_index] = np.linspace(0.0, amt, cfg.num_frames)
    verts = (obj.pose_vertices(q, m) - center) / scale  # [Nf, V, 3]
    moving = np.isin(m.face_part, _subtree(obj, part_index))
    out = render_views(verts, m.faces, m.face_colors, moving, cfg)
    _, c2w = cameras(cfg)
    out.update(camera=c2w.reshape(cfg.num_views, 16).astype(np.float32), prompt=prop_prompts(obj)[part.name],
               category=obj.category, object=obj.name, part=part.name, joint_type=part.joint,
               origin=np.asarray(part.pivot, float), axis=np.asarray(part.axis, float), amount=amt,
               center=center, scale=scale)
    return out


def movable_parts(obj) -> list[int]:
    return [i for i, p in enumerate(obj.parts) if p.joint in MOVING_TYPES]


def build_dataset(categories, seeds, cfg: DatasetConfig | None = None, parts_per_object: int = 1, seed: int = 0,
                  progress=None) -> dict:
    """Samples for ``parts_per_object`` random movable parts of every (category, seed) prop; stacked arrays plus
    lists (prompt, category, object, part, joint_type) -> a dict ``save_dataset`` writes."""
    from ...procedural.props import generate_prop
    cfg = cfg or DatasetConfig()
    rng = np.random.default_rng(seed)
    rows = []
    jobs = [(c, s) for c in categories for s in seeds]
    for n, (cat, s) in enumerate(jobs):
        obj = generate_prop(cat, s)
        mp = movable_parts(obj)
        for pi in rng.permutation(mp)[:parts_per_object]:
            rows.append(render_sample(obj, int(pi), cfg, rng))
        if progress:
            progress((n + 1) / len(jobs), f"{cat} {s}")
    return stack(rows)


_ARRAYS = ("latents", "mask", "views", "camera", "origin", "axis", "amount", "center", "scale")
_STRINGS = ("prompt", "category", "object", "part", "joint_type")


def stack(rows: list[dict]) -> dict:
    out = {k: np.stack([np.asarray(r[k]) for r in rows]) for k in _ARRAYS}
    out.update({k: np.array([r[k] for r in rows]) for k in _STRINGS})
    return out


def save_dataset(path, data: dict) -> None:
    from ...util.atomic import atomic_path
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **data)


def load_dataset(path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# ------------------------------------------------------------------------------------------ evaluation packs
def condition_pack(vertices: np.ndarray, faces: np.ndarray, moving: np.ndarray, prompt: str, *,
                   face_colors: np.ndarray | None = None, cfg: DatasetConfig | None = None, seed: int = 0,
                   up: np.ndarray | None = None) -> dict:
    """Conditioning for one part of a mesh at rest (no motion known): views, mask, camera, prompt, the rest-state
    latent, and the normalized static/dynamic surface points (with their colours) the SDS Gaussians start from.

    vertices [V, 3], faces [F, 3], moving [F] bool (the part and what moves with it), face_colors [F, 3] (grey
    default), up: the object's up axis (default +Y)."""
    from .prior import _up_to_y
    cfg = cfg or DatasetConfig()
    R = _up_to_y(up)
    center, scale = normalization(np.asarray(vertices, float))
    vn = ((np.asarray(vertices, float) - center) / scale) @ R.T
    fc = np.full((len(faces), 3), 0.7) if face_colors is None else np.asarray(face_colors, float)
    out = render_views(vn[None], faces, fc, moving, cfg)
    out["rest_latent"] = out.pop("latents")[:, 0]  # [Nv, 4, h, w] uint8: the known first frame
    rng = np.random.default_rng(seed)
    pts = {}
    for key, sel, n in (("static", ~moving, cfg.n_static), ("dynamic", moving, cfg.n_dynamic)):
        fi = np.flatnonzero(sel)
        if len(fi) == 0:
            pts[key], pts[key + "_color"] = np.zeros((n, 3)), np.zeros((n, 3))
            continue
        p, f = sample_surface_faces(vn, faces[fi], n, rng)
        pts[key], pts[key + "_color"] = p, fc[fi][f]
    _, c2w = cameras(cfg)
    out.update(camera=c2w.reshape(cfg.num_views, 16).astype(np.float32), prompt=prompt, center=center, scale=scale,
               rotation=R, **{k: v.astype(np.float32) for k, v in pts.items()})
    return out
