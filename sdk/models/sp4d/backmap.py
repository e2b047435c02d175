"""Back-mapping generated spatial colour encodings to discrete part maps (SP4D §3.2).

With a SAM checkpoint: SAM automatic masks per image, the mode colour of each mask painted over it,
then HDBSCAN over the colours of all images -> part ids consistent across views and frames.
Without one (weight-free fallback): a 3x3 median filter per image instead of SAM masks, then the same
HDBSCAN over all images. Both end with a 3x3 majority filter.

With known geometry (``face_ids``: the triangle visible at every pixel, as the renderer gives it when the
views are rendered from a mesh): every pixel takes the mean colour of its triangle over all views and frames
before the clustering (the colour encoding is constant on a triangle, since a triangle lies in one part), so
noise averages out and the part maps are consistent across views by construction.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from ...errors import InvalidInputError, MissingDependencyError


def foreground_mask(images: np.ndarray, background: float = 1.0, threshold: float = 0.08) -> np.ndarray:
    """images [N, H, W, 3] in [0, 1] -> [N, H, W] bool (pixels away from the background colour)"""
    return np.abs(images - background).max(-1) > threshold


def _mode_color(pixels: np.ndarray, bins: int = 24) -> np.ndarray:
    q = np.clip((pixels * bins).astype(np.int64), 0, bins - 1)
    code = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    m = np.bincount(code).argmax()
    return pixels[code == m].mean(0)


def sam_clean(images: np.ndarray, masks_fg: np.ndarray, checkpoint: str, model_type: str = "vit_b",
              device: str = "cpu") -> np.ndarray:
    """Paint every SAM automatic mask with the mode colour of its pixels. images [N,H,W,3] -> same shape."""
    try:
        from segment_anything import SamAutomaticMaskGenerator, sam_model_registry
    except Exception as e:  # segment_anything needs torchvision
        raise MissingDependencyError("segment-anything (with torchvision)", "SAM back-mapping",
                                     f"pip install segment-anything torchvision ({e})") from e
    sam = sam_model_registry[model_type](checkpoint=checkpoint).to(device)
    gen = SamAutomaticMaskGenerator(sam)
    out = images.copy()
    for i, img in enumerate(images):
        for m in sorted(gen.generate((img * 255).astype(np.uint8)), key=lambda r: -r["area"]):
            seg = m["segmentation"] & masks_fg[i]
            if seg.sum() >= 4:
                out[i][seg] = _mode_color(images[i][seg])
    return out


def cluster_colors(images: np.ndarray, fg: np.ndarray, min_cluster_frac: float = 0.004,
                   max_samples: int = 6000, merge_eps: float = 0.04, seed: int = 0) -> np.ndarray:
    """HDBSCAN over foreground colours of all images -> labels [N, H, W] (-1 background), consistent over images."""
    from sklearn.cluster import HDBSCAN
    pix = images[fg]
    if len(pix) == 0:
        return np.full(fg.shape, -1, dtype=np.int64)
    rng = np.random.default_rng(seed)
    sample = pix[rng.choice(len(pix), min(max_samples, len(pix)), replace=False)]
    mcs = max(5, int(min_cluster_frac * len(sample)))
    jitter = sample + rng.normal(0, 2e-3, sample.shape)  # exact duplicate colours make HDBSCAN degenerate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        # (cluster_selection_epsilon is avoided: it crashes in some scikit-learn versions; merged below instead)
        lab = HDBSCAN(min_cluster_size=mcs, min_samples=5).fit_predict(jitter)
    if (lab >= 0).sum() == 0:
        centres, counts = sample.mean(0, keepdims=True), np.array([len(sample)])
    else:
        ks = np.unique(lab[lab >= 0])
        centres = np.stack([sample[lab == k].mean(0) for k in ks])
        counts = np.array([(lab == k).sum() for k in ks])
    centres = _merge_close(centres, counts, merge_eps)
    d = ((pix[:, None, :] - centres[None]) ** 2).sum(-1)
    out = np.full(fg.shape, -1, dtype=np.int64)
    out[fg] = d.argmin(1)
    return out


def _merge_close(centres: np.ndarray, counts: np.ndarray, eps: float) -> np.ndarray:
    """Merge cluster centres closer than ``eps`` (count-weighted), closest pair first."""
    c, n = centres.astype(np.float64).copy(), counts.astype(np.float64).copy()
    while len(c) > 1:
        d = np.linalg.norm(c[:, None] - c[None], axis=-1) + np.eye(len(c)) * 1e9
        i, j = np.unravel_index(d.argmin(), d.shape)
        if d[i, j] >= eps:
            break
        c[i] = (c[i] * n[i] + c[j] * n[j]) / (n[i] + n[j])
        n[i] += n[j]
        c, n = np.delete(c, j, 0), np.delete(n, j)
    return c


def majority_filter(labels: np.ndarray, num_labels: int, size: int = 3) -> np.ndarray:
    """3x3 majority vote per image among foreground pixels. labels [N, H, W] (-1 background)"""
    if num_labels <= 1:
        return labels
    out = labels.copy()
    for i, lab in enumerate(labels):
        votes = np.stack([ndimage.uniform_filter((lab == k).astype(np.float32), size) for k in range(num_labels)])
        out[i] = np.where(lab >= 0, votes.argmax(0), -1)
    return out


def _relabel(labels: np.ndarray) -> np.ndarray:
    u = np.unique(labels[labels >= 0])
    lut = np.full(int(labels.max()) + 2 if labels.size else 1, -1, dtype=np.int64)
    lut[u] = np.arange(len(u))
    return np.where(labels >= 0, lut[labels.clip(0)], -1)


def pool_by_face(images: np.ndarray, face_ids: np.ndarray) -> np.ndarray:
    """Mean colour per visible triangle over all images, painted back.

    images: [N, H, W, 3]; face_ids: [N, H, W] int (-1 = no triangle) -> [N, H, W, 3] (pixels without a triangle unchanged)
    """
    fid = np.asarray(face_ids).reshape(-1).astype(np.int64)
    pix = images.reshape(-1, 3)
    ok = fid >= 0
    if not ok.any():
        return images.copy()
    u, inv = np.unique(fid[ok], return_inverse=True)
    sums = np.zeros((len(u), 3))
    np.add.at(sums, inv, pix[ok])
    mean = sums / np.bincount(inv, minlength=len(u))[:, None]
    out = pix.copy()
    out[ok] = mean[inv]
    return out.reshape(images.shape)


def backmap(images, fg: np.ndarray | None = None, sam_checkpoint: str | None = None, sam_model_type: str = "vit_b",
            device: str = "cpu", seed: int = 0, face_ids: np.ndarray | None = None) -> np.ndarray:
    """Generated part-encoding images (all views and frames of one object) -> consistent part maps.

    images: [N, H, W, 3] float in [0, 1] (white background); fg: optional [N, H, W] bool foreground
    face_ids: optional [N, H, W] int visible triangle per pixel (-1 none): known geometry, colours pooled per
        triangle instead of SAM / median filtering (fg defaults to face_ids >= 0)
    returns [N, H, W] int64 part ids 0..K-1, -1 background
    """
    img = np.asarray(images, dtype=np.float64)
    if img.ndim != 4 or img.shape[-1] != 3:
        raise InvalidInputError(f"expected images [N, H, W, 3], got {img.shape}", field="images")
    if face_ids is not None:
        face_ids = np.asarray(face_ids)
        if face_ids.shape != img.shape[:3]:
            raise InvalidInputError(f"face_ids must be {img.shape[:3]}, got {face_ids.shape}", field="face_ids")
        fg = face_ids >= 0 if fg is None else np.asarray(fg, dtype=bool)
        lab = cluster_colors(pool_by_face(img, face_ids), fg, seed=seed)
        return _relabel(lab)
    fg = foreground_mask(img) if fg is None else np.asarray(fg, dtype=bool)
    if sam_checkpoint:
        clean = sam_clean(img, fg, sam_checkpoint, sam_model_type, device)
    else:
        clean = np.stack([ndimage.median_filter(im, size=(3, 3, 1)) for im in img])
    lab = cluster_colors(clean, fg, seed=seed)
    lab = majority_filter(lab, int(lab.max()) + 1)
    return _relabel(lab)
