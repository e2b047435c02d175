"""The one progress / cancel protocol (sdk.util.progress): nested ranges stay monotone in [0, 1], and a callback
that raises stops work mid-stage (kinematic parts inside rig-from-motion, between parts in articulation)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdk.errors import Cancelled
from sdk.util.progress import CancelToken, Steps, cancellable, each, report, sub

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_sub_ranges_nest_and_clamp():
    seen = []
    outer = lambda f, m: seen.append((f, m))  # noqa: E731
    inner = sub(sub(outer, 0.5, 1.0), 0.0, 0.5)  # [0.5, 0.75]
    for f in (-1.0, 0.0, 0.5, 1.0, 2.0):
        inner(f, "x")
    assert [f for f, _ in seen] == [0.5, 0.5, 0.625, 0.75, 0.75]
    steps = Steps(outer, 4)
    s2 = steps.sub(2)
    s2(1.0, "half")
    steps("two", advance=2)
    assert seen[-2:] == [(0.5, "half"), (0.5, "two")]
    assert sub(None, 0, 1) is None
    report(None, 0.5, "nothing happens")
    assert list(each([1, 2], outer, "item")) == [1, 2] and seen[-1] == (1.0, "done")


def test_cancel_token_stops_rig_from_motion_inside_kinematic_parts():
    from sdk.core import MeshSequence
    from sdk.motionrig.pipeline import rig_from_motion
    z = np.load(SAMPLES / "arm_motion.npz")
    seq = MeshSequence(z["vertices"], z["faces"], 30.0)
    token, seen = CancelToken(), []

    def cb(f, m):
        seen.append((f, m))
        if m == "clustering":  # a message of the kinematic-parts stage, before SSDR starts
            token.cancel()
    with pytest.raises(Cancelled):
        rig_from_motion(seq, progress=cancellable(cb, token))
    msgs = [m for _, m in seen]
    assert "features" in msgs and not any(m.startswith("SSDR") for m in msgs)
    fr = [f for f, _ in seen]
    assert fr == sorted(fr) and fr[-1] < 0.5


def test_articulation_reports_every_part_and_cancels_between_parts():
    from sdk import Articulator
    art = Articulator()
    seen = []
    res = art.articulate(str(SAMPLES / "cabinet.obj"), all_parts=True, progress=lambda f, m: seen.append((f, m)))
    movable = [j for j in res.joints if j.type != "fixed"]
    assert len([m for _, m in seen if m.startswith("part ")]) == len(movable) >= 2
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[-1][0] == 1.0

    def stop_after_first(f, m):
        if m.startswith("part ") and f > 0:
            raise Cancelled("enough")
    with pytest.raises(Cancelled):
        art.articulate(str(SAMPLES / "cabinet.obj"), all_parts=True, progress=stop_after_first)
