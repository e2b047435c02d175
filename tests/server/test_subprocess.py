"""`python -m sdk.cli serve` as a real subprocess: bound port on stdout, token file, TLS, graceful shutdown."""
from __future__ import annotations

import os
import re
import signal
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from sdk.client import RemoteArticulator, RemoteError

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "subprocess-token-42"


class Served:
    def __init__(self, *args: str):
        env = dict(os.environ, ARTICULATE_PROGRESS="0", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "sdk.cli", "serve", "--port", "0", *args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        line = self.proc.stdout.readline()  # "listening on 127.0.0.1:PORT (...)"
        m = re.search(r"listening on (\S+):(\d+)", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"no port on stdout: {line!r}; stderr: {''.join(self.stderr)}")
        self.port = int(m.group(2))
        self.target = f"127.0.0.1:{self.port}"

    def stop(self, sig=signal.SIGTERM, timeout=60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def token_file(tmp_path):
    p = tmp_path / "tokens.txt"
    p.write_text(f"# accepted tokens\n{TOKEN}\nsecond-token-123\n")
    return p


def test_subprocess_serve_auth_and_graceful_shutdown(token_file, rigged):
    s = Served("--token-file", str(token_file), "--grace", "60")
    try:
        c = RemoteArticulator(s.target, token=TOKEN, timeout=120)
        assert c.health() == "SERVING"
        asset, parts = rigged["RiggedFigure"]
        assert c.rig(asset.mesh, parts).skin.n_vertices == asset.mesh.n_vertices
        with pytest.raises(RemoteError) as e:
            RemoteArticulator(s.target, token="nope-nope-nope", timeout=10).server_info()
        assert e.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert RemoteArticulator(s.target, token="second-token-123").server_info().auth_required
        # an in-flight job finishes during a graceful shutdown; health turns NOT_SERVING meanwhile
        big, big_parts = rigged["BrainStem"]
        req, mesh = c.rig_request(big.mesh, big_parts)
        h = c.submit("rig", req)
        while c.job(h.job_id).state == 1:  # queued
            time.sleep(0.02)
        s.proc.send_signal(signal.SIGTERM)
        deadline, seen = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            try:
                seen = c.health(timeout=2)
            except grpc.RpcError:
                break
            if seen == "NOT_SERVING":
                break
            time.sleep(0.05)
        assert seen == "NOT_SERVING"
        with pytest.raises(RemoteError) as e:  # no new work while draining
            c.rig(asset.mesh, parts)
        assert e.value.code == grpc.StatusCode.UNAVAILABLE
        ev, _ = c.watch(h.job_id)  # the result still arrives
        assert ev.rig.rig.skin.vertex_count == big.mesh.n_vertices
        assert s.proc.wait(60) == 0  # exits by itself once drained
        assert "draining" in "".join(s.stderr)
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def test_subprocess_bad_arguments_exit_cleanly(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    r = subprocess.run([sys.executable, "-m", "sdk.cli", "serve", "--port", "0", "--token-file", str(empty)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "holds no token" in r.stderr
    r = subprocess.run([sys.executable, "-m", "sdk.cli", "serve", "--port", "0", "--tls-cert", str(empty)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "both --tls-cert and --tls-key" in r.stderr


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_subprocess(tmp_path, token_file, rigged):
    cert, key = _self_signed(tmp_path)
    s = Served("--tls-cert", str(cert), "--tls-key", str(key), "--token-file", str(token_file))
    try:
        c = RemoteArticulator(s.target, token=TOKEN, root_certificates=cert.read_bytes(), timeout=60)
        info = c.server_info()
        assert info.tls and info.auth_required
        asset, parts = rigged["RiggedFigure"]
        assert c.rig(asset.mesh, parts).skeleton.n_joints == parts.n_parts
        # a plaintext client cannot talk to the TLS port
        with pytest.raises(RemoteError) as e:
            RemoteArticulator(s.target, token=TOKEN, timeout=5).server_info()
        assert e.value.code == grpc.StatusCode.UNAVAILABLE
        assert s.stop() == 0
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def _serve_rc(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "sdk.cli", "serve", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_port_in_use_and_bad_tls_are_one_line_errors(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        r = _serve_rc("--port", str(s.getsockname()[1]))
    finally:
        s.close()
    assert r.returncode == 2 and "in use" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    r = _serve_rc("--port", "0", "--tls-cert", str(bad), "--tls-key", str(bad))
    assert r.returncode == 2 and "not a usable PEM certificate" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = _serve_rc("--port", "0", "--max-message-mb", "4096")
    assert r.returncode == 2 and "--max-message-mb" in r.stderr and "Traceback" not in r.stderr


def test_sigterm_mid_solve_delivers_final_status_and_exits_0():
    """SIGTERM during a long solve (grace 0): the job's process is killed, the stream gets UNAVAILABLE in band, exit 0."""
    from tests.server.test_reliability import tube
    from sdk.server.gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc
    s = Served("--grace", "0", "--max-message-mb", "2048")
    try:
        c = RemoteArticulator(s.target, timeout=120)
        mesh, parts = tube(rings=1200)  # 300k vertices: the harmonic solve outlasts the signal on a quiet machine
        req, _ = c.rig_request(mesh, parts)
        events, err = [], None
        t0 = None
        try:
            for ev in sgrpc.ArticulateServiceStub(c.channel).Rig(req, timeout=120):
                events.append(ev)
                if ev.WhichOneof("event") == "progress" and "weights" in ev.progress.message and t0 is None:
                    time.sleep(0.05)
                    t0 = time.monotonic()
                    s.proc.send_signal(signal.SIGTERM)
        except grpc.RpcError as e:
            err = e
        assert t0 is not None, [e.WhichOneof("event") for e in events]
        assert events[-1].WhichOneof("event") == "final", [e.WhichOneof("event") for e in events]
        assert events[-1].final.code == grpc.StatusCode.UNAVAILABLE.value[0]
        assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE
        assert s.proc.wait(30) == 0
        assert time.monotonic() - t0 < 10
        tail = "".join(s.stderr)
        assert "Traceback" not in tail and "BLAS" not in tail, tail
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
