"""Physics tracking and procedural gaits against the shared animators' clips (AKD §4.5 / issue 14).

Tables: (1) per walk/run/gallop clip: Eq. 13 loss and tracking errors open-loop PD vs physics-tracked, penetration,
root tilt, falls, foot sliding kinematic vs tracked; (2) a clip raised by 5% H drifting at 0.3 H/s, before/after;
(3) gait statistics of the procedural generator vs each animal's own clips (duty factor, phase offsets, stride/H).
CPU budget: short windows (``--frames``) and few iterations (``--iterations``; the paper runs 200).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

CHARACTERS = [("Fox", "Fox/Fox.glb", ["Walk", "Run"]),
              ("Q-Wolf", "Quaternius_Wolf/Wolf.glb", ["Walk", "Gallop"]),
              ("Q-Deer", "Quaternius_Deer/Deer.glb", ["Walk", "Gallop"]),
              ("Q-Shiba", "Quaternius_ShibaInu/ShibaInu.glb", ["Walk", "Gallop"]),
              ("Q-Husky", "Quaternius_Husky/Husky.glb", ["Walk", "Gallop"]),
              ("Q-Alpaca", "Quaternius_Alpaca/Alpaca.glb", ["Walk", "Gallop"]),
              ("Q-Fox", "Quaternius_Fox/Fox.glb", ["Walk", "Gallop"])]


def add_arguments(p):
    p.add_argument("--data", default=None, help="shared data folder (default ../shared/data)")
    p.add_argument("--frames", type=int, default=10, help="frames tracked per clip (window)")
    p.add_argument("--iterations", type=int, default=8)
    p.add_argument("--only", default=None, help="comma-separated character names")
    p.add_argument("--skip-physics", action="store_true")
    p.add_argument("--skip-gait", action="store_true")
    p.add_argument("--skip-raised", action="store_true", help="skip the raised-and-drifting Fox Walk row")
    p.add_argument("--clips", default=None, help="comma-separated clip names (default: each character's walk/run/gallop)")
    p.add_argument("--start", choices=["first", "stance"], default="first",
                   help="window start: the clip's first frame, or the frame with the most feet in contact (ours)")
    p.add_argument("--json", default=None, help="write all rows as JSON")


def _data(args) -> Path:
    from ..errors import InvalidInputError
    d = Path(args.data) if args.data else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not (d / "rigged").is_dir():
        raise InvalidInputError(f"shared data not found at {d}", field="--data")
    return d


def stance_start(kin, params, legs, frames: int) -> int:
    """First frame of the ``frames``-long window that starts with the most feet in contact (ours)."""
    from ..physics.pipeline import foot_contacts
    _, c = foot_contacts(kin, params, legs)
    n = c.sum(1)[: max(1, params.n_frames - frames + 1)]
    return int(n.argmax())


def physics_rows(data: Path, chars, frames: int, iterations: int, log=print, start: str = "first") -> list[dict]:
    from ..io import load_asset
    from ..motion.gait import detect_legs
    from ..motion.kinematics import MotionParams
    from ..physics.pipeline import physics_track, prepare
    from ..physics.tracking import TrackingConfig
    rows = []
    for name, path, clips in chars:
        rig = load_asset(data / "rigged" / path).rig
        prep = prepare(rig)
        for clip in clips:
            t0 = time.perf_counter()
            s0 = 0
            if start == "stance":
                anim = prep[0].animation(clip)
                p = prep[1].params_from_animation(anim)
                s0 = stance_start(prep[1], p, detect_legs(prep[1]), frames)
                p = MotionParams(p.angles[s0:s0 + frames], p.root[s0:s0 + frames])
                _, _, rep = physics_track(rig, clip, params=p, fps=anim.fps, prepared=prep,
                                          tcfg=TrackingConfig(iterations=iterations))
            else:
                _, _, rep = physics_track(rig, clip, max_frames=frames, tcfg=TrackingConfig(iterations=iterations),
                                          prepared=prep)
            row = {"character": name, "clip": clip, "start": s0, "frames": rep.frames, "loss_open": rep.losses[0],
                   "loss_tracked": min(rep.losses), "kin": rep.kinematic.as_dict(), "open": rep.open_loop.as_dict(),
                   "tracked": rep.tracked.as_dict(), "diverged": rep.diverged, "losses": rep.losses,
                   "input_foot_slide": rep.input_foot_slide, "root_rebuilt": rep.root_rebuilt, "seconds": time.perf_counter() - t0}
            rows.append(row)
            log(_physics_line(row))
    return rows


def _fell(m) -> str:
    return f"yes ({m['fall_body'] or 'tilt'}, frame {m['fall_frame']})" if m["fell"] else "no"


def _physics_line(r) -> str:
    o, t, k = r["open"], r["tracked"], r["kin"]
    return (f"| {r['character']} | {r['clip']} | {r['frames']} | {r['loss_open']:.4f} → {r['loss_tracked']:.4f} "
            f"({r['loss_tracked'] / max(r['loss_open'], 1e-12):.2f}×) | {o['tracking_joint_deg']:.2f} → "
            f"{t['tracking_joint_deg']:.2f} | {o['tracking_pos_pct']:.2f} → {t['tracking_pos_pct']:.2f} | {o['root_pos_pct']:.1f} → {t['root_pos_pct']:.1f} | "
            f"{t['penetration_pct']:.2f} | {k['max_tilt_deg']:.1f} → {t['max_tilt_deg']:.1f} | "
            f"{t.get('max_tilt_vs_clip_deg', float('nan')):.1f} | {_fell(o)} → {_fell(t)} | "
            f"{'yes' if o['fell_root_height'] else 'no'} → {'yes' if t['fell_root_height'] else 'no'} | "
            f"{r['input_foot_slide']:.2f} / {k['foot_slide']:.2f} → {t['foot_slide']:.2f} | {r['seconds']:.0f} |")


PHYS_HEADER = ("| character | clip | frames | Eq. 13 loss open-loop → tracked | joint err (deg) | body err (% H) | root err (% H) | "
               "max penetration (% H) | max tilt from frame 0 (deg), clip → tracked | max tilt vs the clip's at the same frame (deg) | fell: trunk/head on the ground, open → tracked | "
               "fell: root < 0.7× kinematic (previous test), open → tracked | "
               "foot slide: clip as given / root rebuilt → tracked (H/s) | s |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def raised_drift_row(data: Path, frames: int, iterations: int) -> dict:
    """Fox Walk raised by 5% H with a 0.3 H/s sideways drift: is it pulled back to the ground?"""
    from ..io import load_asset
    from ..motion.gait import detect_legs, rig_height
    from ..motion.kinematics import MotionParams
    from ..physics.pipeline import foot_contacts, physics_track, prepare
    from ..physics.tracking import TrackingConfig
    rig = load_asset(data / "rigged" / "Fox" / "Fox.glb").rig
    rig2, kin, moved = prepare(rig)
    a = rig2.animation("Walk")
    p = kin.params_from_animation(a)
    p = MotionParams(p.angles[:frames], p.root[:frames].clone())
    H = rig_height(kin)
    t = torch.arange(frames, dtype=p.root.dtype) / a.fps
    p.root[:, 1] += 0.05 * H
    p.root[:, 0] += 0.3 * H * t
    legs = detect_legs(kin)
    feet, c = foot_contacts(kin, p, legs)
    g = float(rig2.mesh.vertices[:, 1].min())
    kin_min = float((feet[..., 1] - g).min() / H * 100)
    _, _, rep = physics_track(rig, "Walk", params=p, fps=a.fps, rebuild_root="never", prepared=(rig2, kin, moved),
                              tcfg=TrackingConfig(iterations=iterations))
    return {"input_min_foot_height_pct": kin_min, "tracked_min_foot_height_pct": rep.tracked.min_foot_height_pct,
            "input_foot_slide": None, "kin_foot_slide_grounded": rep.kinematic.foot_slide,
            "tracked_foot_slide": rep.tracked.foot_slide, "penetration_pct": rep.tracked.penetration_pct,
            "fell": rep.tracked.fell}


def gait_rows(data: Path, chars, log=print) -> list[dict]:
    from ..io import load_asset
    from ..motion.gait import GEN_LOG, detect_legs, gait_statistics, generate_gait
    from ..motion.kinematics import KinematicRig, reparent_detached
    rows = []
    for name, path, clips in chars:
        rig, _ = reparent_detached(load_asset(data / "rigged" / path).rig)
        kin = KinematicRig(rig)
        legs = detect_legs(kin)
        for clip, mode in zip(clips, ("walk", "run" if "Run" in clips else "gallop")):
            a = rig.animation(clip)
            ref = gait_statistics(kin, kin.params_from_animation(a), a.fps, legs)
            gen = generate_gait(kin, mode)
            st = gait_statistics(kin, gen, 30.0, legs, looped=False, cycle_frames=GEN_LOG["cycle_s"] * 30.0)
            dd = max(abs(st.duty[k] - ref.duty[k]) for k in ref.duty)
            dp = max(min(abs(st.phase[k] - ref.phase[k]), 1 - abs(st.phase[k] - ref.phase[k])) for k in ref.phase)
            row = {"character": name, "clip": clip, "mode": mode, "clip_duty": ref.duty, "gen_duty": st.duty,
                   "clip_phase": ref.phase, "gen_phase": st.phase, "clip_stride_H": ref.stride_over_height,
                   "gen_stride_H": st.stride_over_height, "clip_stance_speed": ref.stance_speed,
                   "gen_stance_speed": st.stance_speed, "max_duty_err": dd, "max_phase_err": dp,
                   "ik_rmse_H": GEN_LOG.get("foot_rmse_over_H")}
            rows.append(row)
            log(_gait_line(row))
    return rows


def _fmt(d):
    return " ".join(f"{k} {v:.2f}" for k, v in sorted(d.items()))


def _gait_line(r) -> str:
    return (f"| {r['character']} | {r['clip']} / {r['mode']} | {_fmt(r['clip_duty'])} | {_fmt(r['gen_duty'])} | "
            f"{r['max_duty_err']:.2f} | {_fmt(r['clip_phase'])} | {_fmt(r['gen_phase'])} | {r['max_phase_err']:.2f} | "
            f"{r['clip_stride_H']:.2f} / {r['gen_stride_H']:.2f} | {r['gen_stance_speed']:.2f} |")


GAIT_HEADER = ("| character | clip / generated | clip duty | generated duty | max Δduty | clip phase | generated phase | "
               "max Δphase (cycles) | stride/H clip / gen | gen stance-foot speed (H/s) |\n|---|---|---|---|---|---|---|---|---|---|")


def run(args) -> int:
    from ..errors import InvalidInputError
    data = _data(args)
    chars = list(CHARACTERS)
    for flag, value, known in (("--only", args.only, [c[0] for c in chars]),
                               ("--clips", args.clips, sorted({c for _, _, cl in chars for c in cl}))):
        unknown = [x for x in (value or "").split(",") if value and x not in known]
        if unknown:  # an unknown name would silently leave its rows out
            raise InvalidInputError(f"{flag}: unknown {', '.join(map(repr, unknown))}; known: {', '.join(known)}",
                                    field=flag)
    chars = [c for c in chars if not args.only or c[0] in args.only.split(",")]
    if args.clips:
        chars = [(n, p, [c for c in cl if c in args.clips.split(",")]) for n, p, cl in chars]
    if not any(cl for _, _, cl in chars):
        raise InvalidInputError(f"--only {args.only} --clips {args.clips}: no character has these clips", field="--clips")
    out = {}
    if not args.skip_gait:
        print(GAIT_HEADER)
        out["gait"] = gait_rows(data, chars)
    if not args.skip_physics:
        print(PHYS_HEADER)
        out["physics"] = physics_rows(data, chars, args.frames, args.iterations, start=args.start)
    if not args.skip_physics and not args.skip_raised:
        r = raised_drift_row(data, args.frames, args.iterations)
        out["raised_drift"] = r
        print(f"raised (+5% H) and drifting (0.3 H/s) Fox Walk: min foot height {r['input_min_foot_height_pct']:.1f}% H"
              f" -> {r['tracked_min_foot_height_pct']:.2f}% H after tracking; foot sliding (grounded kinematic "
              f"{r['kin_foot_slide_grounded']:.2f}) -> {r['tracked_foot_slide']:.2f} H/s; penetration "
              f"{r['penetration_pct']:.2f}% H; fell {r['fell']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))
    return 0
