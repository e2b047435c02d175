"""``articulate physics-track RIG --clip NAME -o OUT``: make a clip physically plausible (AKD §4.5, Newton)."""
from __future__ import annotations

import json
import time
from pathlib import Path


def register(sub):
    p = sub.add_parser("physics-track", help="track an animation clip in physics (feet on the ground, no "
                                             "penetration, balance kept); report before/after")
    p.add_argument("rig", help="rigged glTF/GLB (or a rig the SDK wrote)")
    p.add_argument("--clip", default=None, help="animation clip (default: the first)")
    p.add_argument("-o", "--output", required=True, help="output .usda/.usdc/.usd or .glb/.gltf")
    p.add_argument("--iterations", type=int, default=20, help="tracking iterations (the paper: 200)")
    p.add_argument("--max-frames", type=int, default=None, help="track only the first N frames")
    p.add_argument("--root", choices=["auto", "always", "never"], default="auto",
                   help="rebuild the root path of in-place clips from the stance feet (auto: when in place)")
    p.add_argument("--ke", type=float, default=None, help="global PD stiffness k_e")
    p.add_argument("--kd", type=float, default=None, help="global PD damping k_d")
    p.add_argument("--report", default=None, help="JSON report (default: OUTPUT with .json)")
    p.add_argument("--preview", default=None, help="GIF preview (default: OUTPUT with .gif)")
    p.add_argument("--no-preview", action="store_true", help="do not write the preview")
    p.set_defaults(func=run, inputs={"rig": "asset"},
                   flags={"--iterations": "int>=1", "--max-frames": "int>=2", "--ke": ">=0", "--kd": ">=0"})


def format_table(rep) -> str:
    rows = [("tracking error (% H, root-relative bodies)", "tracking_pos_pct", "{:.2f}"),
            ("root position error (% H)", "root_pos_pct", "{:.2f}"),
            ("tracking error (deg, joints)", "tracking_joint_deg", "{:.2f}"),
            ("max penetration (% H)", "penetration_pct", "{:.2f}"),
            ("foot sliding (H/s)", "foot_slide", "{:.3f}"),
            ("max root tilt from frame 0 (deg)", "max_tilt_deg", "{:.1f}"),
            ("max root tilt vs the clip's at the same frame (deg)", "max_tilt_vs_clip_deg", "{:.1f}"),
            ("fell (a trunk/head body on the ground, or tilt > 60°)", "fell", "{}"),
            ("fell (root < 0.7 × kinematic root height; the previous test)", "fell_root_height", "{}")]
    out = ["| metric | kinematic input | open-loop PD | physics tracked |", "|---|---|---|---|"]
    for label, key, fmt in rows:
        vals = [fmt.format(getattr(getattr(rep, k), key)) for k in ("kinematic", "open_loop", "tracked")]
        out.append(f"| {label} | " + " | ".join(vals) + " |")
    return "\n".join(out)


def run(args) -> int:
    from ..util.progress import cli_bar, sub
    from ..errors import InvalidInputError
    from ..io import load_asset
    from ..motion.output import check_output, export_motion
    from ..physics.model import PhysicsConfig
    from ..physics.pipeline import physics_track
    from ..physics.tracking import TrackingConfig
    from ..util.atomic import atomic_write_text
    t0 = time.perf_counter()
    out = check_output(args.output)
    asset = load_asset(args.rig)
    if asset.rig is None:
        raise InvalidInputError(f"{args.rig} has no rig (skeleton + skin)", field="rig")
    if not asset.rig.animations:
        raise InvalidInputError(f"{args.rig} has no animation clip to track", field="--clip")
    cfg = PhysicsConfig()
    if args.ke is not None:
        cfg.ke = args.ke
    if args.kd is not None:
        cfg.kd = args.kd
    with cli_bar("physics-track") as top:
        progress = sub(top, 0.0, 0.9)  # the command's steps fill 0-90 %
        rig2, anim, rep = physics_track(asset.rig, args.clip, cfg=cfg, tcfg=TrackingConfig(iterations=args.iterations),
                                        max_frames=args.max_frames, rebuild_root=args.root, progress=progress)
        preview = export_motion(rig2, anim, out, progress=progress,
                                preview=None if args.no_preview else args.preview or out.with_suffix(".gif"))
    report_path = Path(args.report) if args.report else out.with_suffix(".json")
    atomic_write_text(report_path, json.dumps(rep.as_dict(), indent=1))
    print(format_table(rep))
    msg = f"wrote {out} ({rep.frames} frames, {rep.bodies} bodies, root {'rebuilt from the stance feet' if rep.root_rebuilt else 'as given'})"
    if rep.diverged:
        msg += f"; WARNING: {rep.diverged} (kept the last good result)"
    print(f"{msg}; report {report_path}{'; preview ' + str(preview) if preview else ''}; {time.perf_counter() - t0:.1f}s")
    return 0
