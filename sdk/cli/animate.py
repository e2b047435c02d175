"""``articulate animate RIG --prompt "walk forward" -o OUT``: text-driven skeletal motion (AKD)."""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path


def register(sub):
    p = sub.add_parser("animate", help="animate a rig from a text prompt (procedural gait + physics by default; "
                                       "AKD's CogVideoX SDS with --method sds and the weights)")
    p.add_argument("rig", help="rigged glTF/GLB, or a mesh with parts (rigged first with `articulate rig`)")
    p.add_argument("--prompt", required=True, help='e.g. "walk forward", "a dog gallops", "turn left", "jump"')
    p.add_argument("-o", "--output", required=True, help="output .usda/.usdc/.usd or .glb/.gltf")
    p.add_argument("--method", choices=["auto", "procedural", "sds"], default="auto",
                   help="auto: sds when CogVideoX weights and --prompt-embeds are present, else procedural")
    p.add_argument("--prompt-embeds", default=None, help=".pt file with T5 prompt embeddings [1, 226, 4096] (sds)")
    p.add_argument("--seconds", type=float, default=1.0, help="clip length in seconds (default 1.0)")
    p.add_argument("--fps", type=float, default=30.0, help="clip frame rate (default 30)")
    p.add_argument("--no-physics", action="store_true", help="skip the physics tracking step")
    p.add_argument("--physics-iterations", type=int, default=2, help="tracking iterations (CPU budget; the paper: 200)")
    p.add_argument("--report", default=None, help="JSON report (default: OUTPUT with .json)")
    p.add_argument("--preview", default=None, help="GIF preview (default: OUTPUT with .gif)")
    p.add_argument("--no-preview", action="store_true", help="do not write the GIF preview")
    p.set_defaults(func=run, inputs={"rig": "asset"},
                   flags={"--seconds": ">0", "--fps": ">0", "--physics-iterations": "int>=0"})


def _load_rig(path):
    from ..errors import InvalidInputError
    from ..io import load_asset
    asset = load_asset(path)
    if asset.rig is not None:
        return asset.rig
    if asset.parts is None or asset.parts.n_parts < 2:
        raise InvalidInputError(f"{path} has no rig and no parts to rig (give a rigged glTF or a parted mesh)",
                                field="rig")
    from ..articulator import Articulator
    return Articulator().rig(path)


def run(args) -> int:
    from ..util.progress import cli_bar, sub
    from ..pipelines.animate import animate
    from ..motion.output import check_output, export_motion
    from ..util.atomic import atomic_write_text
    t0 = time.perf_counter()
    out = check_output(args.output)
    rig = _load_rig(args.rig)
    method = args.method
    guidance = None
    if method in ("auto", "sds"):
        from ..models.cogvideox import CogVideoXGuidance, weights_present
        if method == "sds" or (weights_present() and args.prompt_embeds):
            import torch
            from ..errors import InvalidInputError
            if not args.prompt_embeds:
                raise InvalidInputError("--method sds needs --prompt-embeds (T5 embeddings [1, 226, 4096] as .pt)",
                                        field="--prompt-embeds")
            # MissingWeightsError (one line, exit 2) when the checkpoint is absent
            guidance = CogVideoXGuidance.from_pretrained(prompt_embeds=torch.load(args.prompt_embeds),
                                                         device="cuda" if torch.cuda.is_available() else "cpu")
            method = "sds"
        else:
            method = "procedural"
    with cli_bar("animate") as top:
        progress = sub(top, 0.0, 0.9)  # the command's steps fill 0-90 %
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rig2, anim, rep, kin, params = animate(rig, args.prompt, seconds=args.seconds, fps=args.fps, method=method,
                                                   physics=not args.no_physics,
                                                   physics_iterations=args.physics_iterations, progress=progress,
                                                   guidance=guidance)
        for w in caught:
            if "no motion word" in str(w.message) or "physics" in str(w.message):
                print(f"warning: {w.message}", file=sys.stderr)
        preview = export_motion(rig2, anim, out, kin=kin, params=params, progress=progress,
                                preview=None if args.no_preview else args.preview or out.with_suffix(".gif"))
    report_path = Path(args.report) if args.report else out.with_suffix(".json")
    atomic_write_text(report_path, json.dumps(rep.__dict__, indent=1, default=str))
    phys = ""
    if rep.physics:
        t = rep.physics["tracked"]
        phys = (f"; physics: penetration {t['penetration_pct']:.2f}% H, tilt {t['max_tilt_deg']:.1f} deg, "
                f"{'FELL' if t['fell'] else 'no fall'}, foot sliding {t['foot_slide']:.3f} H/s")
    print(f"wrote {out} ({rep.motion}{' turning' if rep.turn_rate else ''}, {rep.method}, {rep.frames} frames at "
          f"{rep.fps:g} fps{phys}); USD validated clean{'' if out.suffix.startswith('.usd') else ' (n/a)'}; "
          f"report {report_path}{'; preview ' + str(preview) if preview else ''}; {time.perf_counter() - t0:.1f}s")
    return 0
