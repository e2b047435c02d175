"""``articulate render-views ASSET --clip NAME -o DIR``: multi-view videos of an animated asset (+ cameras JSON)."""
from __future__ import annotations

from pathlib import Path


def register(sub):
    p = sub.add_parser("render-views", help="render an animated asset's clip from fixed cameras (4D-GS input)")
    p.add_argument("asset", help="animated glTF/GLB")
    p.add_argument("-o", "--output", required=True, help="output folder (one sub-folder of PNG frames per view)")
    p.add_argument("--clip", default=None, help="animation clip (default: the first)")
    p.add_argument("--protocol", default="paper4", choices=["paper4", "dense24", "test"],
                   help="paper4: az 0/90/180/270 el 15 (Track4DGen); dense24: Fibonacci sphere; test: held-out views")
    p.add_argument("--frames", type=int, default=16, help="frames per view, >= 2 (default 16)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels, >= 8 (default 256)")
    p.add_argument("--in-between", action="store_true", help="render the midpoints between the training frames")
    p.add_argument("--lit", action="store_true", help="camera-fixed Lambert light (default: unlit base colour)")
    p.add_argument("--supersample", type=int, default=2, help="s x s samples per pixel (anti-aliasing; default 2)")
    p.add_argument("--extent", type=float, default=1.0, help="longest side of the clip's bounding box")
    p.add_argument("--device", default="cpu", help="torch device of the renderer (cpu, cuda; default cpu)")
    p.add_argument("--no-gt", action="store_true", help="do not write gt.npz (ground-truth vertices)")
    p.set_defaults(func=run, inputs={"asset": "asset"},
                   flags={"--frames": "int>=2", "--size": "int>=8", "--supersample": "int>=1", "--extent": ">0"})


def run(args) -> int:
    import numpy as np

    from exporters.multiview import write_multiview

    from ..errors import InvalidInputError
    from ..io.gltf import load_gltf
    from ..render.views import render_asset_views
    from ..util.progress import cli_bar, sub
    if args.frames < 2:
        raise InvalidInputError(f"--frames must be >= 2 (got {args.frames})", field="--frames")
    if args.size < 8:
        raise InvalidInputError(f"--size must be >= 8 (got {args.size})", field="--size")
    asset = load_gltf(args.asset)
    with cli_bar("render-views") as top:
        progress = sub(top, 0.0, 0.9)  # the command's steps fill 0-90 %
        video, gt = render_asset_views(asset, args.clip, protocol=args.protocol, n_frames=args.frames, size=args.size,
                                       in_between=args.in_between, lit=args.lit, supersample=args.supersample,
                                       extent=args.extent, device=args.device, progress=progress)
        out = write_multiview(video, args.output, None if args.no_gt else gt)
        from PIL import Image  # preview: first frame of every view side by side
        strip = np.concatenate(list(video.frames[:, 0]), 1)
        Image.fromarray((np.clip(strip, 0, 1) * 255).astype(np.uint8)).save(Path(out) / "preview.png")
    print(f"wrote {video.n_views} views x {video.n_frames} frames ({video.width}x{video.height}) of "
          f"'{video.meta['clip']}' to {out}")
    return 0
