"""Reader of multi-view video folders (``cameras.json`` + one folder of frames per view; see
``exporters/multiview.py`` for the layout). Every inconsistency is one clear error naming the view and frame."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.multiview import MultiViewVideo
from ..errors import AssetReadError, InvalidInputError

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_multiview(folder, *, min_frames: int = 2) -> MultiViewVideo:
    """Read and validate a multi-view video folder. Frames without alpha get a mask of pixels that differ from
    the background by more than 2/255."""
    from PIL import Image
    folder = Path(folder)
    cam_file = folder / "cameras.json"
    if not cam_file.exists():
        raise AssetReadError(folder, "no cameras.json in the multi-view folder")
    try:
        doc = json.loads(cam_file.read_text())
        views = doc["views"]
        w, h = int(doc["width"]), int(doc["height"])
    except (ValueError, KeyError, TypeError) as e:
        raise AssetReadError(cam_file, f"malformed cameras.json ({type(e).__name__}: {e})") from e
    if doc.get("convention", "opengl") != "opengl":
        raise InvalidInputError(f"camera convention {doc.get('convention')!r} is not supported (use 'opengl')",
                                field="convention", source=str(cam_file))
    bg = float(doc.get("background", 0.5))
    frames, masks, w2c, focal, names = [], [], [], [], []
    counts = []
    for i, v in enumerate(views):
        name = str(v.get("name", f"view_{i:02d}"))
        try:
            m = np.asarray(v["world_to_cam"], dtype=np.float64).reshape(4, 4)
            f = float(v["focal"])
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInputError(f"view {i} ({name}): camera needs world_to_cam 4x4 and focal ({e})",
                                    field=f"views[{i}]", source=str(cam_file)) from None
        d = folder / name
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES) if d.is_dir() else []
        if not files:
            raise AssetReadError(d, f"view {i} ({name}) has no frames")
        counts.append(len(files))
        fr, ms = [], []
        for k, p in enumerate(files):
            try:
                im = np.asarray(Image.open(p))
            except Exception as e:  # noqa: BLE001 - any decoder failure names the file
                raise AssetReadError(p, f"cannot read image ({e})") from e
            if im.shape[0] != h or im.shape[1] != w:
                raise InvalidInputError(f"view {i} ({name}) frame {k} is {im.shape[1]}x{im.shape[0]}, "
                                        f"cameras.json says {w}x{h}", field=f"{name}/{p.name}", source=str(folder))
            im = im.astype(np.float32) / (65535.0 if im.dtype == np.uint16 else 255.0)
            if im.ndim == 2:
                im = np.repeat(im[..., None], 3, -1)
            if im.shape[-1] == 4:
                a = im[..., 3]
                rgb = im[..., :3]
            else:
                rgb = im[..., :3]
                a = (np.abs(rgb - bg).max(-1) > 2.0 / 255.0).astype(np.float32)
            fr.append(rgb)
            ms.append(a)
        frames.append(np.stack(fr))
        masks.append(np.stack(ms))
        w2c.append(m)
        focal.append(f)
        names.append(name)
    if len(set(counts)) > 1:
        bad = int(np.argmax(np.asarray(counts) != counts[0]))
        raise InvalidInputError(f"views have different frame counts: {names[0]} has {counts[0]}, {names[bad]} has "
                                f"{counts[bad]}", field=f"views[{bad}]", source=str(folder))
    t = counts[0]
    times = np.asarray(doc.get("times", np.linspace(0, 1, t)), dtype=np.float64)
    if len(times) != t:
        raise InvalidInputError(f"cameras.json lists {len(times)} times for {t} frames", field="times",
                                source=str(cam_file))
    video = MultiViewVideo(np.stack(frames), np.stack(masks), np.stack(w2c), np.asarray(focal), times,
                           fps=float(doc.get("fps", 30.0)), background=bg, view_names=names,
                           name=str(doc.get("name", folder.name)), source=str(folder), meta=dict(doc.get("meta", {})))
    return video.validate(min_frames=min_frames)


def read_gt(folder) -> dict | None:
    """The optional ``gt.npz`` beside the frames (vertices [T, V, 3], faces, canonical, ...)."""
    p = Path(folder) / "gt.npz"
    if not p.exists():
        return None
    with np.load(p) as z:
        return {k: z[k] for k in z.files}
