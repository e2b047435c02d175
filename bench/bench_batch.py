"""Batch throughput on Ray vs a plain sequential loop, per-task overhead, memory per worker, and a 10k-asset
cluster estimate (simulated from the measured task times).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python bench/bench_batch.py --n 500 --workers 1,2 [--out bench_out]
    PYTHONPATH=$PWD python bench/bench_batch.py --simulate-only bench_out/results.json   # just the 10k estimate

The library is procedural props and characters (samples/make_library.py, no broken files: every asset is work).
* sequential: one Python loop calling the same per-asset function the workers run (``scheduler.run_one``: load,
  rig/joints, export, OpenUSD validation, preview PNG, outputs moved into place), after the same warm-up.
* ray, --workers k: ``articulate batch`` (``run_batch``) with k actors on a local Ray started for the run;
  throughput is counted from the first dispatch, Ray start-up + actor warm-up is reported on its own.
* overhead per task: driver-observed wall time of a call minus the time the worker spent in it (dispatch,
  argument/result transfer, scheduling), as a share of the median task time (goal <= 5 %).
* memory per worker: RSS of each worker process after warm-up and its peak over the run.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def sequential(lib: Path, out: Path) -> dict:
    from sdk.batch import tasks as T
    from sdk.batch.scheduler import asset_out_dir, run_one, scan
    t0 = time.perf_counter()
    T.warm_up()
    warm = time.perf_counter() - t0
    times, done = [], 0
    t1 = time.perf_counter()
    for p in scan(lib, out):
        rel = p.relative_to(lib).as_posix()
        spec = T.TASKS[T.classify(p)]
        r = run_one(spec, str(p), str(out / asset_out_dir(rel)), str(out / ".staging"), spec.options_for({}), 4096)
        done += r["status"] == "done"
        times.append(r["timings"]["task"])
    run = time.perf_counter() - t1
    return {"mode": "sequential", "workers": 1, "assets": len(times), "done": done, "warm_s": round(warm, 2),
            "run_s": round(run, 2), "per_min": round(60 * len(times) / run, 1),
            "median_task_s": round(statistics.median(times), 4)}


def ray_run(lib: Path, out: Path, workers: int) -> dict:
    from sdk.batch import BatchConfig, run_batch
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    s = run_batch(lib, out, BatchConfig(task="auto", workers=workers, progress_bar=False, report=True))
    wall = time.perf_counter() - t0
    driver_cpu = time.process_time() - cpu0
    m = json.loads((out / "manifest.json").read_text())["assets"]
    tasks = [e["timings"]["task"] for e in m.values() if e["status"] == "done"]
    over = [e["timings"]["overhead"] for e in m.values() if "overhead" in e.get("timings", {})]
    per_pid: dict[int, float] = {}
    for e in m.values():
        w = e.get("worker") or {}
        if w:
            per_pid[w["pid"]] = max(per_pid.get(w["pid"], 0.0), w["peak_rss_mb"])
    med = statistics.median(tasks)
    return {"mode": "ray", "workers": workers, "assets": len(m), "done": sum(e["status"] == "done" for e in m.values()),
            "startup_s": s["startup_s"], "run_s": s["run_s"], "wall_s": round(wall, 2),
            "per_min": s["throughput_per_min"], "per_min_with_startup": round(60 * len(m) / wall, 1),
            "median_task_s": round(med, 4), "task_times_s": sorted(round(t, 4) for t in tasks),
            "overhead_median_s": round(statistics.median(over), 4), "overhead_p90_s": round(_pct(over, 0.9), 4),
            "overhead_pct_of_median_task": round(100 * statistics.median(over) / med, 2),
            "driver_cpu_s_per_task": round(driver_cpu / max(len(m), 1), 5),
            "worker_rss_mb_idle": s.get("worker_rss_mb_idle"), "worker_warm_s": s.get("worker_warm_s"),
            "worker_peak_rss_mb": sorted(per_pid.values())}


def simulate(task_times: list[float], n: int, workers: int, overhead_s: float, driver_s: float,
             warm_s: float, seed: int = 0) -> dict:
    """Event simulation of ``n`` assets on ``workers`` actors: task times drawn from the measured ones, each call
    costing ``overhead_s`` of worker idle time, the driver dispatching at most one call per ``driver_s``."""
    import random
    rnd = random.Random(seed)
    free = [(warm_s, w) for w in range(workers)]  # (time the worker is free, id)
    heapq.heapify(free)
    driver = 0.0
    busy = 0.0
    end = 0.0
    for _ in range(n):
        t_free, w = heapq.heappop(free)
        start = max(t_free, driver)
        driver = start + driver_s
        d = rnd.choice(task_times)
        busy += d
        fin = start + overhead_s + d
        end = max(end, fin)
        heapq.heappush(free, (fin, w))
    return {"workers": workers, "assets": n, "makespan_min": round(end / 60, 2), "per_min": round(60 * n / end, 1),
            "utilisation": round(busy / (end * workers), 3)}


def manifest_cost(n: int) -> dict:
    """Time to write the manifest snapshot of n entries (the driver rewrites it every snapshot_interval_s)."""
    entry = {"path": "characters/quadruped_123456.obj", "source": "/studio/lib/characters/quadruped_123456.obj",
             "content_hash": "0" * 32, "size": 12345, "mtime_ns": 1, "out_dir": "assets/characters/quadruped_123456-obj",
             "task": "rig", "options": {"method": "harmonic", "max_influences": 4, "max_bones": None, "quantize": None,
                                        "format": "usda", "up_axis": "Y", "meters_per_unit": 1.0, "preview": True,
                                        "preview_size": 160}, "options_hash": "0" * 16, "attempts": 1,
             "status": "done", "outputs": {"rig": "rig.usda", "validation": "validation.json", "preview": "preview.png"},
             "stats": {"bones": 11, "vertices": 274, "faces": 492, "parts": 11, "max_influences": 4}, "findings": [],
             "error": None, "error_kind": None, "timings": {"load": 0.01, "compute": 0.1, "export": 0.02,
                                                             "validate": 0.05, "preview": 0.1, "task": 0.3,
                                                             "wall": 0.31, "overhead": 0.01},
             "worker": {"pid": 1, "host": "node-17", "rss_mb": 600.0, "peak_rss_mb": 650.0},
             "run_id": "0" * 12, "finished_at": "2026-12-01T00:00:00.000Z"}
    doc = {"assets": {f"a{i}": dict(entry, path=f"a{i}") for i in range(n)}}
    t0 = time.perf_counter()
    text = json.dumps(doc, indent=1)
    dt = time.perf_counter() - t0
    return {"assets": n, "snapshot_mb": round(len(text) / 2 ** 20, 1), "snapshot_s": round(dt, 3),
            "journal_line_bytes": len(json.dumps(entry))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="assets in the generated library (default 500)")
    ap.add_argument("--workers", default="1,2", help="comma list of worker counts (default 1,2)")
    ap.add_argument("--out", default="bench_out/batch", help="work folder (library, outputs, results.json)")
    ap.add_argument("--no-sequential", action="store_true")
    ap.add_argument("--sequential-last", action="store_true",
                    help="run the sequential loop after the Ray runs (order effects on a loaded machine)")
    ap.add_argument("--simulate-only", default=None, help="results.json of an earlier run: only the 10k estimate")
    a = ap.parse_args(argv)
    os.environ.setdefault("ARTICULATE_PROGRESS", "0")
    if a.simulate_only:
        res = json.loads(Path(a.simulate_only).read_text())
    else:
        from samples.make_library import make_library
        work = Path(a.out)
        lib = work / "library"
        if work.exists():
            shutil.rmtree(work)
        kinds = ["character_obj", "character_glb", "character_obj", "prop", "character_obj", "character_obj"]
        make_library(lib, a.n, seed=7, bad=0, kinds=[kinds[i % len(kinds)] for i in range(a.n)])
        res = {"n": a.n, "cpus": os.cpu_count(), "load_avg_before": os.getloadavg(), "runs": []}
        def seq():
            r = sequential(lib, work / "out_seq")
            print(json.dumps(r))
            res["runs"].append(r)
        if not a.no_sequential and not a.sequential_last:
            seq()
        for w in [int(x) for x in a.workers.split(",")]:
            r = ray_run(lib, work / f"out_w{w}", w)
            print(json.dumps({k: v for k, v in r.items() if k != "task_times_s"}))
            res["runs"].append(r)
        if not a.no_sequential and a.sequential_last:
            seq()
        res["load_avg_after"] = os.getloadavg()
    ray_runs = [r for r in res["runs"] if r["mode"] == "ray"]
    ref = max(ray_runs, key=lambda r: r["workers"])
    res["simulation_10k"] = [simulate(ref["task_times_s"], 10_000, w, ref["overhead_median_s"],
                                      ref["driver_cpu_s_per_task"], max(ref["worker_warm_s"] or [0]))
                             for w in (16, 64, 256, 1024)]
    res["manifest_10k"] = manifest_cost(10_000)
    if not a.simulate_only:
        Path(a.out, "results.json").write_text(json.dumps(res, indent=1))
    print("\n| run | workers | assets | assets/min | run s | + start-up s | median task s | overhead/task (median, p90) | "
          "overhead % of median task | worker RSS MB idle / peak |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in res["runs"]:
        if r["mode"] == "sequential":
            print(f"| sequential loop | 1 | {r['assets']} | {r['per_min']} | {r['run_s']} | {r['warm_s']} (warm-up) | "
                  f"{r['median_task_s']} | - | - | - |")
        else:
            print(f"| ray batch | {r['workers']} | {r['assets']} | {r['per_min']} | {r['run_s']} | {r['startup_s']} | "
                  f"{r['median_task_s']} | {r['overhead_median_s']}, {r['overhead_p90_s']} | "
                  f"{r['overhead_pct_of_median_task']} | {max(r['worker_rss_mb_idle'])} / {max(r['worker_peak_rss_mb'])} |")
    print("\n10k assets, simulated from the measured task times:")
    print("| workers | makespan min | assets/min | utilisation |")
    print("|---|---|---|---|")
    for r in res["simulation_10k"]:
        print(f"| {r['workers']} | {r['makespan_min']} | {r['per_min']} | {r['utilisation']} |")
    print(f"manifest at 10k: {res['manifest_10k']}")


if __name__ == "__main__":
    main()
