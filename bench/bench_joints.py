"""Time per part of the weight-free joint pipeline on a >= 50k-face procedural prop, on CPU.

    python bench/bench_joints.py [--subdivide 4] [--body-extra 1] [--repeats 3]

The prop is samples/make_cabinet.py's cabinet with every triangle split into 4, N times, the body once more
(defaults: 92,160 faces; ``--body-extra 0`` gives 46,080).
Each part (door, drawer, lid) is articulated with ``articulate_part`` (physics prior + ATOP search + limit
sweep); the table splits the time into the stages (sampling = dense voxelization samples, scene = voxels +
contact + OBB, prior = hypothesis scoring, search = ATOP's OBB search, limits = collision sweep; the rest is input
checks and the first samples). Stage columns are CPU seconds (min over the repeats), like ``cpu s``; ``total s``
is the median wall time. Goal (issue 15): < 0.2 s per part.
"""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subdivide", type=int, default=4)
    ap.add_argument("--body-extra", type=int, default=1, help="extra subdivisions of the body (default: 92k faces)")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    import sys
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("make_cabinet", ROOT / "samples" / "make_cabinet.py")
    mc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mc)
    from sdk.core import Mesh, PartLabels
    from sdk.articulation import articulate as art_mod
    from sdk.articulation import axis_search, limits, prior
    v, f, fl, names = mc.cabinet_mesh(a.subdivide, a.body_extra)
    mesh = Mesh(v, f, "cabinet")
    parts = PartLabels.from_face_labels(f, fl, len(v), names)
    prompts = {"door": "open the door", "drawer": "pull out the drawer", "lid": "lift the lid"}
    print(f"prop: {mesh.n_faces} faces, {mesh.n_vertices} vertices; CPU, torch threads as configured")
    # stage timers (wrap the three stages)
    timers = {}

    def wrap(mod, name, key):
        fn = getattr(mod, name)

        def w(*x, **k):
            t = time.process_time()  # CPU seconds: the stage split stays meaningful on a loaded machine
            try:
                return fn(*x, **k)
            finally:
                timers[key] = timers.get(key, 0.0) + time.process_time() - t
        setattr(mod, name, w)

    wrap(prior.PhysicsPrior, "scene", "scene")
    wrap(prior.PhysicsPrior, "propose", "prior")
    wrap(axis_search, "atop_search", "search")  # the registry's entry imports it from the module at call time
    wrap(art_mod, "sweep_limits", "limits")
    wrap(art_mod, "_dense_inputs", "sampling")
    rows = []
    articulate_part_ = art_mod.articulate_part
    articulate_part_(mesh, "door", prompts["door"], parts=parts)  # warm-up (imports, allocations)
    for name in names[1:]:
        ts, cpu, st = [], [], {}
        for _ in range(a.repeats):
            timers.clear()
            t, c = time.perf_counter(), time.process_time()
            j = articulate_part_(mesh, name, prompts[name], parts=parts)
            ts.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            for k, x in timers.items():
                st.setdefault(k, []).append(x)
        rows.append((name, j.type, float(np.median(ts)), float(np.min(cpu)), {k: float(np.min(x)) for k, x in st.items()},
                     int((parts.labels[mesh.faces[:, 0]] == names.index(name)).sum())))
    print(f"{'part':8s} {'faces':>7s} {'type':10s} {'total s':>8s} {'cpu s':>6s} {'sampling':>9s} {'prior':>7s} {'search':>7s} "
          f"{'scene':>7s} {'limits':>7s} {'cpu<0.2':>8s}")
    for name, typ, t, c, st, nf in rows:
        print(f"{name:8s} {nf:7d} {typ:10s} {t:8.3f} {c:6.3f} {st.get('sampling', 0):9.3f} {st.get('prior', 0):7.3f} "
              f"{st.get('search', 0):7.3f} {st.get('scene', 0):7.3f} {st.get('limits', 0):7.3f} "
              f"{'yes' if c < 0.2 else 'no':>8s}")
    print(f"mean per part: {np.mean([r[2] for r in rows]):.3f} s wall (median of {a.repeats} runs each), "
          f"{np.mean([r[3] for r in rows]):.3f} s CPU (min; the figure to trust on a loaded machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
