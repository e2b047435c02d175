"""``articulate video-to-4d VIDEO -o OUT.usdc``: the tiny ShapeGen4D end to end.

video (silhouettes) -> per-frame latents (rectified-flow DiT with spatiotemporal layers, shared noise) -> per-frame
meshes (VecSet VAE decode + marching cubes; unrelated topology) -> registration into one topology (App. A.2) ->
time-sampled USD mesh cache (+ GIF preview, JSON report).

VIDEO: a video file OpenCV reads (.mp4, .avi, ...), a folder of PNG/JPG frames (natural order; alpha used when
present), or ``.npz`` with ``video [T, 2, H, W]`` (silhouette, depth) or ``masks [T, H, W]``. Without alpha the
background is the median border colour; the foreground's union box over all frames is centred and scaled as in
training (front orthographic view).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

_VIDEO = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif", ".m4v")
_IMAGES = (".png", ".jpg", ".jpeg", ".bmp")


def register(sub):
    p = sub.add_parser("video-to-4d", help="silhouette video -> 4D mesh cache with the tiny ShapeGen4D trained here "
                                           "(procedural capsule shapes only)")
    p.add_argument("video", help="video file, folder of PNG/JPG frames, or .npz (video [T,2,H,W] or masks [T,H,W])")
    p.add_argument("-o", "--output", required=True, help="output .usdc / .usda mesh cache")
    p.add_argument("--weights", default=None, help="checkpoint folder shapegen4d-tiny/ (default: ARTICULATE_WEIGHTS_DIR, "
                                                  "then the bundled one)")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default: the video's, else 24)")
    p.add_argument("--max-frames", type=int, default=16, help="use at most N evenly spaced frames (default 16)")
    p.add_argument("--resolution", type=int, default=96, help="marching-cubes grid per frame (default 96)")
    p.add_argument("--iterations", type=int, default=None, help="registration refinement steps per frame")
    p.add_argument("--mode", choices=("template", "chain"), default="template", help="registration mode")
    p.add_argument("--seed", type=int, default=0, help="noise seed (one shared draw per window, §3.2)")
    p.add_argument("--threshold", type=float, default=0.1, help="background colour distance for the silhouette "
                                                                "(0..1, videos without alpha)")
    p.add_argument("--device", default=None, help="torch device (cpu, cuda)")
    p.add_argument("--preview", default=None, help="GIF preview path (default: OUTPUT with .gif)")
    p.add_argument("--no-preview", action="store_true", help="do not write the preview")
    p.add_argument("--report", default=None, help="JSON report path (default OUTPUT .json)")
    p.set_defaults(func=run)


def _read_frames(path: Path):
    """-> (list of HxWxC uint8 / float arrays or a ready [T, 2, H, W] array, fps or None)."""
    import numpy as np
    from ..errors import AssetReadError, InvalidInputError
    if not path.exists():
        raise InvalidInputError(f"video not found: {path}", field="video", source=str(path))
    if path.is_dir():
        files = sorted((f for f in path.iterdir() if f.suffix.lower() in _IMAGES),
                       key=lambda f: [int(s) if s.isdigit() else s for s in __import__("re").split(r"(\d+)", f.name)])
        if not files:
            raise InvalidInputError(f"no PNG/JPG frames in {path}", field="video", source=str(path))
        from PIL import Image
        out = []
        for i, f in enumerate(files):
            try:
                im = Image.open(f)
                out.append(np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB")))
            except Exception as e:
                raise AssetReadError(f"cannot read frame {i} ({f.name}): {e}", source=str(f)) from e
        return out, None
    ext = path.suffix.lower()
    if ext == ".npz":
        d = np.load(path)
        if "video" in d:
            v = np.asarray(d["video"], np.float32)
            if v.ndim != 4 or v.shape[1] != 2:
                raise InvalidInputError(f"'video' must be [T, 2, H, W], got {v.shape}", field="video", source=str(path))
            return v, float(d["fps"]) if "fps" in d else None
        if "masks" in d:
            m = np.asarray(d["masks"], np.float32)
            if m.ndim != 3:
                raise InvalidInputError(f"'masks' must be [T, H, W], got {m.shape}", field="video", source=str(path))
            return [(x > 0.5).astype(np.uint8)[..., None] * 255 for x in m], float(d["fps"]) if "fps" in d else None
        raise InvalidInputError("the .npz needs 'video' [T, 2, H, W] or 'masks' [T, H, W]", field="video",
                                source=str(path))
    if ext not in _VIDEO:
        raise InvalidInputError(f"unknown video format '{path.suffix}' (use {', '.join(_VIDEO + ('.npz',))} or a "
                                f"folder of frames)", field="video", source=str(path))
    try:
        import cv2
    except ImportError as e:
        from ..errors import MissingDependencyError
        raise MissingDependencyError("opencv-python-headless", "reading video files",
                                     "pip install opencv-python-headless") from e
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or None
    out = []
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        out.append(fr[..., ::-1].copy())
    cap.release()
    if not out:
        raise AssetReadError(f"no frames could be decoded from {path.name}", source=str(path))
    return out, fps


def silhouettes(frames, res: int, threshold: float = 0.1, fill: float = 0.8):
    """Frames (HxWx{1,3,4} uint8) -> video [T, 2, res, res] float32 (silhouette, depth = 0): foreground by alpha, by a
    single channel, or by colour distance to the median border colour; the union box over all frames is centred and
    its larger side scaled to ``fill`` of the image (the training renders' framing)."""
    import numpy as np
    from PIL import Image
    from ..errors import InvalidInputError
    masks = []
    for i, fr in enumerate(frames):
        a = np.asarray(fr)
        if a.ndim == 2:
            a = a[..., None]
        if a.shape[:2] != np.asarray(frames[0]).shape[:2]:
            raise InvalidInputError(f"frame {i} is {a.shape[1]}x{a.shape[0]}, frame 0 is "
                                    f"{np.asarray(frames[0]).shape[1]}x{np.asarray(frames[0]).shape[0]}",
                                    field=f"frame {i}")
        a = a.astype(np.float32) / 255.0
        if a.shape[-1] == 4:
            m = a[..., 3] > 0.5
        elif a.shape[-1] == 1:
            m = a[..., 0] > 0.5
        else:
            border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
            bg = np.median(border, 0)
            m = np.linalg.norm(a[..., :3] - bg, axis=-1) > threshold * np.sqrt(3)
        masks.append(m)
    M = np.stack(masks)
    empty = [i for i in range(len(M)) if not M[i].any()]
    if empty:
        raise InvalidInputError(f"frame {empty[0]} has no foreground (empty silhouette)", field=f"frame {empty[0]}")
    ys, xs = np.nonzero(M.any(0))
    cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
    half = max(ys.max() + 1 - ys.min(), xs.max() + 1 - xs.min()) / 2 / fill
    out = np.zeros((len(M), 2, res, res), np.float32)
    H, W = M.shape[1:]
    for t, m in enumerate(M):
        im = Image.fromarray(m.astype(np.uint8) * 255)
        crop = im.transform((res, res), Image.Transform.EXTENT, (cx - half, cy - half, cx + half, cy + half),
                            resample=Image.Resampling.BILINEAR)
        out[t, 0] = (np.asarray(crop, np.float32) / 255.0 > 0.5)
    return out


def run(args) -> int:
    import numpy as np
    import torch
    from ..core import MeshFrames
    from ..errors import InvalidInputError
    from ..models.shapegen4d.tiny import SCOPE, load_tiny
    from ..util.progress import cli_bar, sub
    t0 = time.perf_counter()
    out = Path(args.output)
    if out.suffix.lower() not in (".usdc", ".usda", ".usd"):
        raise InvalidInputError(f"unknown output format '{out.suffix}' (use .usdc, .usda)", field="output")
    if out.is_dir():
        raise InvalidInputError(f"-o {out} is a folder; name the .usdc file", field="output")
    print(f"note: {SCOPE}")
    dev = torch.device(args.device or "cpu")
    model = load_tiny(args.weights, dev)
    res = model.cfg.encoder.image_res
    raw, fps = _read_frames(Path(args.video))
    fps = float(args.fps or fps or 24.0)
    if isinstance(raw, np.ndarray):
        video = raw
        if video.shape[-1] != res or video.shape[-2] != res:
            video = torch.nn.functional.interpolate(torch.from_numpy(video), size=(res, res), mode="nearest").numpy()
    else:
        video = silhouettes(raw, res, args.threshold)
    T = len(video)
    if T < 2:
        raise InvalidInputError(f"the video has {T} frame(s); a 4D cache needs at least 2", field="video")
    if args.max_frames and T > args.max_frames:
        idx = np.unique(np.round(np.linspace(0, T - 1, args.max_frames)).astype(int))
        fps = fps / ((T - 1) / max(len(idx) - 1, 1))
        video = video[idx]
    with cli_bar("video-to-4d") as top:
        top(0.02, "generating latents")
        meshes = model.reconstruct(torch.as_tensor(video, device=dev), seed=args.seed, resolution=args.resolution,
                                   progress=sub(top, 0.05, 0.35))
        for t, m in enumerate(meshes):
            if m.n_faces == 0:
                raise InvalidInputError(f"the model produced no surface at frame {t} (input outside what it can "
                                        f"reconstruct)", field=f"frame {t}", source=str(args.video))
        frames = MeshFrames(meshes, fps, name=Path(args.video).stem, source=str(args.video))
        from ..registration import RegistrationConfig, register_frames
        # ours: generated frames jump more than captured ones; only a jump past 30 % of the diagonal is refused
        cfg = RegistrationConfig(mode=args.mode, cut_tol=0.3)
        if args.iterations:
            cfg.iterations = args.iterations
        if args.device:
            cfg.device = args.device
        seq, report = register_frames(frames, cfg, progress=sub(top, 0.35, 0.9))
        top(0.92, "export")
        from exporters.usd_cache import write_mesh_cache_usd
        write_mesh_cache_usd(seq, out)
        preview = None
        if not args.no_preview:
            from .mesh_cache import write_preview
            from ..core import Mesh
            preview = write_preview(MeshFrames([Mesh(v, seq.faces) for v in seq.vertices], seq.fps),
                                    args.preview or out.with_suffix(".gif"))
    report = {"scope": SCOPE, "frames": len(meshes), "fps": fps, "vertices": int(seq.n_vertices),
              "raw_vertices_per_frame": [int(m.n_vertices) for m in meshes], "registration": report,
              "model": "shapegen4d-tiny", "seconds": round(time.perf_counter() - t0, 2)}
    from ..util.atomic import atomic_write_text
    rp = Path(args.report) if args.report else out.with_suffix(".json")
    atomic_write_text(rp, json.dumps(report, indent=1, default=str))
    print(f"wrote {out} ({len(meshes)} frames, {seq.n_vertices} vertices, {fps:g} fps)"
          f"{f', preview {preview}' if preview else ''}, report {rp}, {time.perf_counter() - t0:.1f}s")
    print(f"note: {SCOPE}")
    return 0
