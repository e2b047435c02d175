"""Procedural gaits graded against an animator's clip (Quaternius Wolf Walk); prompts; legs."""
import warnings

import numpy as np
import pytest
import torch

from sdk.io import load_asset
from sdk.motion import KinematicRig
from sdk.motion.gait import GEN_LOG, GenerateConfig, detect_legs, gait_statistics, generate_gait, parse_prompt
from sdk.motion.kinematics import reparent_detached


def test_prompt_parsing_and_no_motion_word_warns():
    assert parse_prompt("a wolf walks forward") == ("walk", 0.0)
    assert parse_prompt("Gallop across the field")[0] == "gallop"
    m, turn = parse_prompt("turn right slowly")
    assert m == "walk" and turn < 0
    with pytest.warns(UserWarning, match="no motion word"):
        assert parse_prompt("a beautiful red fox")[0] == "idle"


def test_wolf_legs_and_generated_walk_matches_the_clips_phases(shared_data):
    rig, moved = reparent_detached(load_asset(shared_data / "rigged" / "Quaternius_Wolf" / "Wolf.glb").rig)
    assert "IKFrontLeg_L" in moved  # the IK trees carrying the feet are attached to the legs
    kin = KinematicRig(rig)
    legs = detect_legs(kin)
    assert sorted(l.label for l in legs) == ["LF", "LH", "RF", "RH"]
    assert not any("PoleTarget" in rig.skeleton.names[j] for l in legs for j in l.chain)
    a = rig.animation("Walk")
    ref = gait_statistics(kin, kin.params_from_animation(a), a.fps, legs)
    gen = generate_gait(kin, "walk", cfg=GenerateConfig(seconds=1.4, iterations=150))
    st = gait_statistics(kin, gen, 30.0, legs, looped=False, cycle_frames=GEN_LOG["cycle_s"] * 30.0)
    for k in ref.phase:  # phase offsets within 0.1 cycle of the animator's clip
        d = abs(st.phase[k] - ref.phase[k])
        assert min(d, 1 - d) < 0.1, (k, st.phase, ref.phase)
    for k in ref.duty:  # duty factors: ±0.2 (one table for all animals; measured per rig in docs/animate.md)
        assert abs(st.duty[k] - ref.duty[k]) < 0.2, (k, st.duty, ref.duty)
    # the generated motion does not sink into the ground
    with torch.no_grad():
        from sdk.motion.gait import foot_positions
        fp = foot_positions(kin, kin.fk(gen), legs).numpy()
    H = float(np.ptp(rig.mesh.vertices[:, 1]))
    assert fp[..., 1].min() > rig.mesh.vertices[:, 1].min() - 0.01 * H
