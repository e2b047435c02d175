"""Reliability harness for `articulate serve`: faults and load on loopback, bounded loops, one table.

    python bench/bench_reliability.py                 # full run (about 10 minutes on a 2-core machine)
    python bench/bench_reliability.py --quick         # shorter loops
    python bench/bench_reliability.py --only cancels,sigterm --load-seconds 30

Each probe starts its own server as a subprocess (`python -m sdk.cli serve`), so the RSS read is the
server's own (job worker processes are separate and die with their job). Probes:

  cancels      N mid-stream cancels of a 32k-vertex Rig: server RSS before/after (goal: within 50 MB),
               every job's worker process gone, no job kept
  idle         128 idle streams (64 reflection + 64 half-open uploads): health stays SERVING, answers fast
  load32/128   32 and 128 concurrent clients looping Rig for T s: errors other than RESOURCE_EXHAUSTED
               from the job queue (goal 0), p50/p99 latency
  uploads      half-open 128 MiB uploads against a 2 GiB budget: refused at the budget, server RSS flat
               (bytes on disk), the budget back once they time out
  deadlines    200 calls with a 1 ms deadline: all DEADLINE_EXCEEDED, server healthy
  garbage      random bytes to every method: INVALID_ARGUMENT/UNAUTHENTICATED..., never UNKNOWN/INTERNAL
  sigterm      SIGTERM during a long harmonic solve (grace 0): final status in band, exit code 0, < 10 s
  big          a 5 M-vertex rig via Upload + chunked result (the mesh is 500 copies of a 10k-vertex tube,
               so the solve stays small while every byte of the 5 M-vertex transport is real)
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import numpy as np  # noqa: E402

TOKEN = "bench-token-0123456789"
MD = (("authorization", f"Bearer {TOKEN}"),)
ROWS: list[tuple[str, str, str, bool]] = []


def row(name: str, measured: str, goal: str, ok: bool) -> None:
    ROWS.append((name, measured, goal, ok))
    print(f"  {'PASS' if ok else 'FAIL'}  {name}: {measured}  (goal: {goal})", flush=True)


class Server:
    def __init__(self, *args: str, tmp: Path):
        self.tokens = tmp / "tokens.txt"
        self.tokens.write_text(TOKEN + "\n")
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "sdk.cli", "serve", "--port", "0", "--token-file",
                                      str(self.tokens), *args], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (\S+):(\d+)", line)
        if not m:
            raise RuntimeError(f"server did not start: {line!r} {''.join(self.stderr)[-2000:]}")
        self.target = f"127.0.0.1:{m.group(2)}"
        self.channel = grpc.insecure_channel(self.target, options=[("grpc.max_receive_message_length", 64 << 20),
                                                                   ("grpc.max_send_message_length", 64 << 20)])
        from sdk.server.gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc
        self.stub = sgrpc.ArticulateServiceStub(self.channel)
        self.wait_jobs_warm()

    def wait_jobs_warm(self):
        """One tiny job, so that the fork server is up before anything is measured."""
        from sdk.client import RemoteArticulator
        c = RemoteArticulator(self.target, token=TOKEN, timeout=300)
        m, p = tube(20, 20)
        c.rig(m, p)
        c.close()

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        kids = [int(x) for x in out]
        grand = []
        for k in kids:  # the fork server's children are the jobs
            grand += [int(x) for x in subprocess.run(["pgrep", "-P", str(k)], capture_output=True,
                                                     text=True).stdout.split()]
        return grand

    def health(self, timeout=5.0) -> tuple[str, float]:
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        t = time.perf_counter()
        r = health_pb2_grpc.HealthStub(self.channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status), (time.perf_counter() - t) * 1000

    def stop(self) -> int:
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


def tube(rings=400, segs=250):
    from sdk.procedural.tube import parted_tube
    return parted_tube(rings, segs)


def rig_request(mesh, parts, **kw):
    from sdk.server import convert
    from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
    return spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(mesh)), parts=convert.parts_to_proto(parts),
                          **kw)


# ---------------------------------------------------------------------------------- probes

def probe_cancels(tmp: Path, n: int) -> None:
    s = Server("--workers", "1", tmp=tmp)
    try:
        req = rig_request(*tube(160, 200))  # 32k vertices, as in the issue
        latencies = []

        def once():
            call = s.stub.Rig(req, metadata=MD, timeout=120)
            try:
                for ev in call:
                    if ev.WhichOneof("event") == "progress":
                        t = time.perf_counter()
                        call.cancel()
                        return t
            except grpc.RpcError:
                return None
        for _ in range(5):
            once()
        time.sleep(1.0)
        before = s.rss_mb()
        trace = []
        for i in range(n):
            if i % max(1, n // 4) == 0:
                trace.append(round(s.rss_mb()))
            t = once()
            if t is not None:
                end = time.monotonic() + 5
                while s.children() and time.monotonic() < end:
                    time.sleep(0.01)
                latencies.append(time.perf_counter() - t)
        time.sleep(1.0)
        after = s.rss_mb()
        left = s.children()
        st, _ = s.health()
        row(f"cancels x{n}: server RSS", f"{before:.0f} -> {after:.0f} MB ({after - before:+.0f} MB; along the way "
            f"{trace} MB)", "within 50 MB",
            abs(after - before) <= 50)
        row(f"cancels x{n}: worker process gone after cancel", f"max {max(latencies):.2f} s, median "
            f"{statistics.median(latencies):.2f} s; {len(left)} left; health {st}", "< 2 s, 0 left, SERVING",
            max(latencies) < 2.0 and not left and st == "SERVING")
    finally:
        s.stop()


def _silent(release):
    release.wait()
    return
    yield


def probe_idle(tmp: Path) -> None:
    from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
    s = Server("--idle-timeout", "60", tmp=tmp)
    release = threading.Event()
    calls = []
    try:
        refl = s.channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                       request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for _ in range(64):
            calls.append(refl(_silent(release), timeout=120))

        def half_open():
            yield spb.UploadChunk(header=spb.UploadHeader(filename="m.obj", total_size=1 << 20))
            release.wait()
        for _ in range(64):
            calls.append(s.stub.Upload.future(half_open(), metadata=MD, timeout=120))
        time.sleep(2.0)
        results, ms = [], []
        for _ in range(20):
            st, t = s.health()
            results.append(st)
            ms.append(t)
        from sdk.client import RemoteArticulator
        c = RemoteArticulator(s.target, token=TOKEN, timeout=60)
        m, p = tube(30, 30)
        ok_rig = c.rig(m, p).skin.n_vertices == m.n_vertices
        c.close()
        row("128 idle streams (64 reflection + 64 half-open uploads)",
            f"health {set(results)} x20, max {max(ms):.1f} ms; a Rig meanwhile {'ok' if ok_rig else 'FAILED'}",
            "SERVING, work still served", set(results) == {"SERVING"} and ok_rig)
    finally:
        release.set()
        for c in calls:
            c.cancel()
        s.stop()


def probe_load(tmp: Path, clients: int, seconds: float) -> None:
    from sdk.client import RemoteArticulator, RemoteError
    s = Server("--workers", "2", "--queue-size", "64", tmp=tmp)
    try:
        m, p = tube(40, 50)  # 2k vertices
        stats = {"ok": 0, "exhausted": 0, "other": []}
        lat = []
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def worker():
            c = RemoteArticulator(s.target, token=TOKEN, timeout=120)
            while time.monotonic() < stop:
                t = time.perf_counter()
                try:
                    c.rig(m, p)
                    with lock:
                        stats["ok"] += 1
                        lat.append(time.perf_counter() - t)
                except RemoteError as e:
                    with lock:
                        if e.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "queue is full" in str(e):
                            stats["exhausted"] += 1
                        else:
                            stats["other"].append(str(e)[:120])
                    if e.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        time.sleep(0.05)
            c.close()
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        health = []
        while any(t.is_alive() for t in threads):
            try:
                health.append(s.health(timeout=5)[0])
            except grpc.RpcError as e:
                health.append(e.code().name)
            time.sleep(1.0)
        for t in threads:
            t.join()
        lat.sort()
        p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
        other = stats["other"]
        row(f"{clients} concurrent clients x {seconds:.0f} s",
            f"{stats['ok']} ok ({stats['ok'] / seconds:.1f}/s), {stats['exhausted']} queue-full, {len(other)} other "
            f"errors{(' e.g. ' + other[0]) if other else ''}; p50 {p50:.0f} ms, p99 {p99:.0f} ms; health "
            f"{sorted(set(health))}", "0 other errors, health SERVING", not other and set(health) == {"SERVING"})
    finally:
        s.stop()


def probe_uploads(tmp: Path) -> None:
    from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
    s = Server("--upload-store-mb", "2048", "--max-upload-mb", "128", "--idle-timeout", "10", tmp=tmp)
    release = threading.Event()
    futures = []
    try:
        before = s.rss_mb()
        chunk = b"\x00" * (1 << 20)

        def half_open():
            yield spb.UploadChunk(header=spb.UploadHeader(filename="big.pb", content_type="application/x-protobuf; "
                                                          "message=articulate.rig.v1.Mesh", total_size=128 << 20))
            for _ in range(16):  # 16 MiB sent, then silence
                yield spb.UploadChunk(data=chunk)
            release.wait()
        for _ in range(24):
            futures.append(s.stub.Upload.future(half_open(), metadata=MD, timeout=120))
        # while the 16 MiB of each arrive (gRPC buffers them per stream), then once they sit idle, half-open
        samples = []
        for _ in range(30):
            time.sleep(0.5)
            samples.append(s.rss_mb())
            if len(samples) >= 6 and max(samples[-4:]) - min(samples[-4:]) < 3:
                break
        refused = sum(1 for f in futures if f.done() and f.exception() is not None and
                      f.exception().code() == grpc.StatusCode.RESOURCE_EXHAUSTED)
        transient, peak = max(samples), samples[-1]
        st, _ = s.health()
        # the silent ones end at the idle timeout; then the budget is free again
        for f in futures:
            try:
                f.result(timeout=30)
            except grpc.RpcError:
                pass
        time.sleep(1.0)

        def full():
            yield spb.UploadChunk(header=spb.UploadHeader(filename="ok.bin", total_size=1 << 20))
            yield spb.UploadChunk(data=chunk)
            yield spb.UploadChunk(end=spb.UploadEnd())
        again = s.stub.Upload(full(), metadata=MD, timeout=30).size == 1 << 20
        row("24 half-open 128 MiB uploads (16 MiB sent each), 2 GiB budget",
            f"{24 - refused} held, {refused} refused at the budget; server RSS {before:.0f} -> {peak:.0f} MB held "
            f"({peak - before:+.0f} MB; {transient - before:+.0f} MB while bytes arrive); health {st}; budget free "
            f"after idle timeout: {again}",
            "8 refused, held RSS growth < 100 MB, SERVING, budget back",
            refused == 8 and peak - before < 100 and st == "SERVING" and again)
    finally:
        release.set()
        for f in futures:
            f.cancel()
        s.stop()


def probe_deadlines(tmp: Path, n: int) -> None:
    s = Server(tmp=tmp)
    try:
        req = rig_request(*tube(40, 50))
        codes = {}
        for _ in range(n):
            try:
                list(s.stub.Rig(req, metadata=MD, timeout=0.001))
                codes["OK"] = codes.get("OK", 0) + 1
            except grpc.RpcError as e:
                codes[e.code().name] = codes.get(e.code().name, 0) + 1
        time.sleep(1.0)
        st, _ = s.health()
        from sdk.client import RemoteArticulator
        c = RemoteArticulator(s.target, token=TOKEN, timeout=60)
        ok = c.rig(*tube(30, 30)).skin.n_vertices == 900
        c.close()
        row(f"{n} calls with a 1 ms deadline", f"{codes}; then health {st}, a Rig {'ok' if ok else 'FAILED'}",
            "all DEADLINE_EXCEEDED, serving", codes == {"DEADLINE_EXCEEDED": n} and st == "SERVING" and ok)
    finally:
        s.stop()


def probe_garbage(tmp: Path, n: int) -> None:
    s = Server(tmp=tmp)
    try:
        rng = np.random.default_rng(0)
        methods = {"Rig": "unary_stream", "WatchJob": "unary_stream", "SubmitJob": "unary_unary",
                   "GetServerInfo": "unary_unary", "DeleteUpload": "unary_unary", "Upload": "stream_unary"}
        codes: dict[str, int] = {}
        for name, kind in methods.items():
            rpc = getattr(s.channel, kind)(f"/articulate.services.v1.ArticulateService/{name}",
                                           request_serializer=lambda b: b, response_deserializer=lambda b: b)
            for _ in range(n):
                junk = rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
                try:
                    if kind == "unary_stream":
                        list(rpc(junk, metadata=MD, timeout=10))
                    elif kind == "stream_unary":
                        rpc(iter([junk, junk]), metadata=MD, timeout=10)
                    else:
                        rpc(junk, metadata=MD, timeout=10)
                    codes["OK"] = codes.get("OK", 0) + 1
                except grpc.RpcError as e:
                    codes[e.code().name] = codes.get(e.code().name, 0) + 1
        st, _ = s.health()
        bad = {k: v for k, v in codes.items() if k in ("UNKNOWN", "INTERNAL")}
        row(f"garbage bytes x{n} to {len(methods)} methods", f"{codes}; health {st}",
            "no UNKNOWN/INTERNAL, SERVING", not bad and st == "SERVING")
    finally:
        s.stop()


def probe_sigterm(tmp: Path) -> None:
    s = Server("--grace", "0", tmp=tmp)
    req = rig_request(*tube(1200))  # 300k vertices: the solve outlasts the signal on a quiet machine
    events, err, t0 = [], None, None
    try:
        for ev in s.stub.Rig(req, metadata=MD, timeout=300):
            events.append(ev)
            if t0 is None and ev.WhichOneof("event") == "progress" and "weights" in ev.progress.message:
                time.sleep(0.5)  # inside the harmonic solve
                t0 = time.monotonic()
                s.proc.send_signal(signal.SIGTERM)
    except grpc.RpcError as e:
        err = e
    rc = s.proc.wait(60)
    took = time.monotonic() - t0 if t0 else float("nan")
    final = events[-1].final if events and events[-1].WhichOneof("event") == "final" else None
    log = "".join(s.stderr)
    clean = "Traceback" not in log and "BLAS" not in log
    row("SIGTERM mid-solve (grace 0)", f"final in band: {grpc.StatusCode.UNAVAILABLE.name if final and final.code == 14 else final}"
        f", status {err.code().name if err else 'OK'}, exit code {rc} after {took:.1f} s, stderr clean: {clean}",
        "final UNAVAILABLE, exit 0, < 10 s, no traceback", bool(final) and final.code == 14 and rc == 0 and took < 10
        and clean)
    s.channel.close()


def probe_big(tmp: Path, vertices: int) -> None:
    from sdk.client import RemoteArticulator
    from sdk.core import Mesh, PartLabels
    s = Server("--max-upload-mb", "1024", "--upload-store-mb", "2048", tmp=tmp)
    try:
        m, p = tube(100, 100)
        copies = vertices // m.n_vertices
        v = np.tile(m.vertices, (copies, 1))
        f = np.concatenate([m.faces + c * m.n_vertices for c in range(copies)])
        big = Mesh(v, f, name="big")
        parts = PartLabels(np.tile(p.labels, copies), p.names)
        c = RemoteArticulator(s.target, token=TOKEN, timeout=1800)
        t = time.perf_counter()
        req, _ = c.rig_request(big, parts, include_mesh=True, formats=["usdc"])
        events = 0
        kinds: dict[str, int] = {}
        call = c.stub.Rig(req, metadata=MD, timeout=1800)
        ev, files = c._run_stream(_counting(call, kinds), None)
        took = time.perf_counter() - t
        from sdk.server import convert
        rig = convert.rig_from_proto(ev.rig.rig)
        ok = (rig.skin.n_vertices == len(v) and rig.mesh.n_vertices == len(v) and kinds.get("result_header") == 1
              and files["rig.usdc"][:8] == b"PXR-USDC")
        row(f"{len(v) / 1e6:.1f} M-vertex rig via Upload + chunked result",
            f"{took:.0f} s; {kinds.get('result_chunk', 0)} result chunks; result {ev.rig.ByteSize() / 2**20:.0f} MiB, "
            f"usdc {len(files['rig.usdc']) / 2**20:.0f} MiB; skin rows {rig.skin.n_vertices}", "round-trips", ok)
        c.close()
    finally:
        s.stop()


def _counting(call, kinds):
    class Wrapped:
        def __iter__(self):
            for ev in call:
                k = ev.WhichOneof("event")
                kinds[k] = kinds.get(k, 0) + 1
                yield ev

        def cancel(self):
            call.cancel()
    return Wrapped()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter loops (cancels x40, load 15 s, 1 M vertices)")
    ap.add_argument("--only", default="", help="comma-separated probes (cancels,idle,load,uploads,deadlines,garbage,"
                                              "sigterm,big)")
    ap.add_argument("--load-seconds", type=float, default=None)
    ap.add_argument("--cancels", type=int, default=None)
    ap.add_argument("--big-vertices", type=int, default=None)
    args = ap.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    n_cancel = args.cancels or (40 if args.quick else 200)
    load_s = args.load_seconds or (15.0 if args.quick else 60.0)
    big_v = args.big_vertices or (1_000_000 if args.quick else 5_000_000)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        probes = [("cancels", lambda: probe_cancels(tmp, n_cancel)), ("idle", lambda: probe_idle(tmp)),
                  ("load", lambda: (probe_load(tmp, 32, load_s), probe_load(tmp, 128, load_s))),
                  ("uploads", lambda: probe_uploads(tmp)), ("deadlines", lambda: probe_deadlines(tmp, 200)),
                  ("garbage", lambda: probe_garbage(tmp, 100)), ("sigterm", lambda: probe_sigterm(tmp)),
                  ("big", lambda: probe_big(tmp, big_v))]
        for name, fn in probes:
            if only and name not in only:
                continue
            print(f"[{name}]", flush=True)
            t = time.monotonic()
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - a probe that crashes is a failed row
                row(name, f"probe crashed: {type(e).__name__}: {e}", "runs", False)
            print(f"  ({time.monotonic() - t:.0f} s)", flush=True)
    print("\n| probe | measured | goal | result |\n|---|---|---|---|")
    for name, measured, goal, ok in ROWS:
        print(f"| {name} | {measured} | {goal} | {'pass' if ok else '**FAIL**'} |")
    return 0 if all(r[3] for r in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
