"""gRPC serving benchmark: round-trip overhead vs in-process, and a concurrent load test.

    python bench/bench_grpc.py            # 10k- and 100k-vertex rigs, 16 clients for 30 s
    python bench/bench_grpc.py --quick    # a short run (10k only, 16 clients for 5 s)

1. Overhead. The same parted mesh is rigged in-process (``sdk.Articulator().rig``) and through a
   server started as a subprocess (``python -m sdk.cli serve``, token auth on) with
   ``sdk.client.RemoteArticulator.rig``; medians over ``--reps`` alternating runs. Goal: remote -
   local < 5% of local + 5 ms. The server's own job time (FinalStatus.elapsed_s) splits the
   overhead into transport/codec vs the rigging itself.
2. Load. ``--clients`` threads, each with its own channel, call Rig back to back for
   ``--duration`` seconds on a small mesh: throughput, p50/p99 latency, errors (goal 0).

Meshes are procedural tubes (a limb) cut into 4 parts along their length, so any size is exact.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdk.core import Mesh, PartLabels  # noqa: E402

TOKEN = "bench-token-0123456789"


def tube(n_vertices: int, parts: int = 4, length: float = 4.0) -> tuple[Mesh, PartLabels]:
    """A closed-ish tube of about ``n_vertices`` vertices along +x, labelled in ``parts`` slabs."""
    segs = int(max(8, round(np.sqrt(n_vertices / 1.6))))
    rings = max(4, n_vertices // segs)
    xs = np.linspace(0, length, rings)
    th = np.linspace(0, 2 * np.pi, segs, endpoint=False)
    r = (0.3 + 0.05 * np.sin(xs * 3))[:, None]
    v = np.stack([np.repeat(xs[:, None], segs, 1), r * np.cos(th), r * np.sin(th)], -1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(rings - 1), np.arange(segs), indexing="ij")
    a, b = i * segs + j, i * segs + (j + 1) % segs
    c, d = a + segs, b + segs
    f = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    lab = np.minimum((v[:, 0] / length * parts).astype(int), parts - 1)
    return Mesh(v, f, name=f"tube_{len(v)}"), PartLabels(lab, [f"part_{k}" for k in range(parts)])


class Server:
    def __init__(self, workers: int, queue: int, token_file: Path):
        env = dict(os.environ, ARTICULATE_PROGRESS="0", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sdk.cli", "serve", "--port", "0", "--workers", str(workers), "--queue-size",
             str(queue), "--token-file", str(token_file), "--max-message-mb", "256"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (\S+):(\d+)", line)
        if not m:
            self.proc.kill()
            raise SystemExit(f"server did not start: {line!r}")
        self.target = f"127.0.0.1:{m.group(2)}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def overhead(client, sizes, reps):
    from sdk import Articulator
    art = Articulator()
    rows = []
    for n in sizes:
        mesh, parts = tube(n)
        # warm up both paths (imports, caches, connection)
        art.rig(mesh, parts)
        client.rig(mesh, parts)
        loc, rem, job = [], [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            art.rig(mesh, parts)
            loc.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            final = {}
            _timed_remote(client, mesh, parts, final)
            rem.append(time.perf_counter() - t0)
            job.append(final["elapsed_s"])
        L, R, J = statistics.median(loc), statistics.median(rem), statistics.median(job)
        goal = 0.05 * L + 0.005
        rpc = statistics.median([r - j for r, j in zip(rem, job)])  # what the call adds around the same work
        rows.append(dict(vertices=mesh.n_vertices, faces=mesh.n_faces, local=L, remote=R, server_job=J,
                         local_min=min(loc), remote_min=min(rem), overhead=R - L, overhead_pct=100 * (R - L) / L,
                         goal=goal, ok=(R - L) < goal, rpc=rpc, rpc_ok=rpc < goal))
    return rows


def _timed_remote(client, mesh, parts, final: dict):
    """client.rig() with the FinalStatus captured (same work as RemoteArticulator.rig)."""
    from sdk import wire as convert
    req, local_mesh = client.rig_request(mesh, parts)
    events = list(client.stub.Rig(req, metadata=client._metadata, timeout=600))
    if events[-1].final.code != 0:
        raise RuntimeError(events[-1].final.message)
    final["elapsed_s"] = events[-1].final.elapsed_s
    res = next(e for e in events if e.WhichOneof("event") == "rig")
    return convert.rig_from_proto(res.rig.rig, local_mesh), res


def load(target, n_clients, duration, mesh, parts):
    from sdk.client import RemoteArticulator
    lat, errors, lock = [], [], threading.Lock()
    start = threading.Barrier(n_clients + 1)
    stop_at = [0.0]

    def worker():
        c = RemoteArticulator(target, token=TOKEN, timeout=120)
        c.rig(mesh, parts)  # connect + warm
        start.wait()
        while time.perf_counter() < stop_at[0]:
            t0 = time.perf_counter()
            try:
                c.rig(mesh, parts)
                with lock:
                    lat.append(time.perf_counter() - t0)
            except Exception as e:  # noqa: BLE001 - counted, reported
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")
        c.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(n_clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + duration + 1e9  # set for real after the barrier
    start.wait()
    t0 = time.perf_counter()
    stop_at[0] = t0 + duration
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat_ms = np.array(lat) * 1000
    return dict(clients=n_clients, duration=wall, requests=len(lat), errors=len(errors),
                throughput=len(lat) / wall, p50=float(np.percentile(lat_ms, 50)) if len(lat) else float("nan"),
                p99=float(np.percentile(lat_ms, 99)) if len(lat) else float("nan"),
                first_error=errors[0] if errors else "")


def rpc_floor(client, n=200):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.server_info()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short run: 10k only, 3 reps, 5 s of load")
    p.add_argument("--sizes", default="10000,100000", help="vertex counts for the overhead table")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    p.add_argument("--load-vertices", type=int, default=2000, help="mesh size for the load test")
    p.add_argument("--workers", type=int, default=2, help="server job workers")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.reps, args.duration = "10000", 3, 5.0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    os.environ.setdefault("ARTICULATE_PROGRESS", "0")

    import tempfile
    from sdk.client import RemoteArticulator
    with tempfile.TemporaryDirectory() as tmp:
        tf = Path(tmp) / "tokens"
        tf.write_text(TOKEN + "\n")
        server = Server(args.workers, max(64, 4 * args.clients), tf)
        try:
            client = RemoteArticulator(server.target, token=TOKEN, timeout=600, max_message_bytes=256 << 20)
            floor = rpc_floor(client)
            rows = overhead(client, sizes, args.reps)
            lmesh, lparts = tube(args.load_vertices)
            ld = load(server.target, args.clients, args.duration, lmesh, lparts)
            client.close()
        finally:
            server.stop()

    print(f"\nmachine: {os.cpu_count()} CPU cores (shared with other work), server = subprocess with "
          f"{args.workers} job workers, token auth on, loopback; empty unary RPC (GetServerInfo) median {floor:.2f} ms\n")
    print("Round trip vs in-process (medians of %d runs; Rig RPC through RemoteArticulator)" % args.reps)
    print("| vertices | faces | in-process s (min) | remote s (min) | server job s | remote - in-process ms (%) "
          "| RPC cost ms = remote - server job | goal ms (5% + 5 ms) | met (remote - in-process / RPC cost) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|:--:|")
    for r in rows:
        print(f"| {r['vertices']:,} | {r['faces']:,} | {r['local']:.3f} ({r['local_min']:.3f}) | "
              f"{r['remote']:.3f} ({r['remote_min']:.3f}) | {r['server_job']:.3f} | "
              f"{1000 * r['overhead']:+.1f} ({r['overhead_pct']:+.1f}%) | {1000 * r['rpc']:.1f} | {1000 * r['goal']:.1f} | "
              f"{'yes' if r['ok'] else 'NO'} / {'yes' if r['rpc_ok'] else 'NO'} |")
    print("(remote - in-process compares two runs of the same rigging and so carries its run-to-run noise on shared "
          "cores; the RPC cost is the same call's total minus the server's own job time: client encode, transport, "
          "queue hand-off, decode)")
    print(f"\nLoad: {ld['clients']} concurrent clients for {ld['duration']:.1f} s, Rig on a {lmesh.n_vertices:,}-vertex "
          f"mesh (4 parts)")
    print("| clients | requests | throughput req/s | p50 ms | p99 ms | errors |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {ld['clients']} | {ld['requests']} | {ld['throughput']:.2f} | {ld['p50']:.0f} | {ld['p99']:.0f} | "
          f"{ld['errors']} |")
    if ld["errors"]:
        print(f"first error: {ld['first_error']}")
    return 0 if ld["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
