"""Engine cache: keys, corruption and staleness detected by hash, rebuilt; new weights -> new key."""
from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
import torch

from trt_engines.cache import MANIFEST, EngineCache, EngineKey, gpu_sm, weights_hash
from trt_engines.onnx_export import parity
from trt_engines.ort import OrtModule
from trt_engines.select import onnx_entry

from .nets import make_inputs, make_net


def _key(**kw):
    base = dict(model="toy", weights_hash="ab" * 16, precision="fp16", bucket="x=1x4x8x8", backend="tensorrt",
                backend_version="tensorrt-10.0", sm="sm90")
    base.update(kw)
    return EngineKey(**base)


def test_every_key_field_changes_the_digest():
    k = _key()
    variants = [replace(k, model="toy2"), replace(k, weights_hash="cd" * 16), replace(k, precision="bf16"),
                replace(k, bucket="x=2x4x8x8"), replace(k, backend="onnxruntime"),
                replace(k, backend_version="tensorrt-10.1"), replace(k, sm="sm89")]
    digests = {k.digest()} | {v.digest() for v in variants}
    assert len(digests) == 1 + len(variants)
    assert k.digest() == _key().digest()  # deterministic


def test_weights_hash_tracks_weights_not_order():
    a, b = make_net(seed=0), make_net(seed=0)
    assert weights_hash(a) == weights_hash(b)
    with torch.no_grad():
        b.inp.weight[0, 0, 0, 0] += 1e-3
    assert weights_hash(a) != weights_hash(b)
    assert weights_hash(a) == weights_hash(dict(reversed(list(a.state_dict().items()))))
    assert weights_hash(a.half()) != weights_hash(make_net(seed=0))  # dtype is part of the hash
    assert gpu_sm("cpu") == "cpu"


class _Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, tmp):
        self.n += 1
        (tmp / "engine.bin").write_bytes(bytes(range(256)) * 64)


def test_get_or_build_builds_once_then_hits(tmp_path):
    cache, build = EngineCache(tmp_path), _Counter()
    d1 = cache.get_or_build(_key(), build)
    d2 = cache.get_or_build(_key(), build)
    assert d1 == d2 and build.n == 1
    m = json.loads((d1 / MANIFEST).read_text())
    assert m["key"]["weights_hash"] == "ab" * 16 and m["files"]["engine.bin"]["size"] == 256 * 64
    assert [e["path"] for e in cache.entries()] == [str(d1)]


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "manifest"])
def test_corrupted_entry_is_detected_and_rebuilt(tmp_path, caplog, damage):
    cache, build = EngineCache(tmp_path), _Counter()
    d = cache.get_or_build(_key(), build)
    f = d / "engine.bin"
    good = f.read_bytes()
    if damage == "flip":
        f.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])  # same size, other content
    elif damage == "truncate":
        f.write_bytes(good[:-10])
    elif damage == "delete":
        f.unlink()
    else:
        (d / MANIFEST).write_text("{ not json")
    assert cache.verify(d, _key()) is not None
    with caplog.at_level(logging.WARNING, logger="trt_engines.cache"):
        d2 = cache.get_or_build(_key(), build)
    assert build.n == 2, "damaged entry must be rebuilt"
    assert "corrupted" in caplog.text
    assert (d2 / "engine.bin").read_bytes() == good and cache.verify(d2, _key()) is None


def test_stale_manifest_is_rebuilt(tmp_path, caplog):
    cache, build = EngineCache(tmp_path), _Counter()
    d = cache.get_or_build(_key(), build)
    m = json.loads((d / MANIFEST).read_text())
    m["key"]["backend_version"] = "tensorrt-9.0"  # an entry left by another version under the same name
    (d / MANIFEST).write_text(json.dumps(m))
    with caplog.at_level(logging.WARNING, logger="trt_engines.cache"):
        cache.get_or_build(_key(), build)
    assert build.n == 2 and "stale" in caplog.text


def test_failed_build_leaves_nothing(tmp_path):
    cache = EngineCache(tmp_path)

    def bad(tmp):
        (tmp / "half.bin").write_bytes(b"x")
        raise RuntimeError("builder crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        cache.get_or_build(_key(), bad)
    assert cache.lookup(_key()) is None
    assert not any(p.name.startswith(".") for p in (tmp_path / "tensorrt").iterdir())


def test_onnx_cache_end_to_end(tmp_path, caplog):
    """Real ONNX exports through the cache: hit, corrupted model file rebuilt, new weights -> new entry."""
    cache = EngineCache(tmp_path)
    net, inp = make_net(), make_inputs()
    p1 = onnx_entry(net, inp, model="toy", precision="fp32", profile=None, cache=cache)
    mtime = p1.stat().st_mtime_ns
    assert onnx_entry(net, inp, model="toy", precision="fp32", profile=None, cache=cache) == p1
    assert p1.stat().st_mtime_ns == mtime  # hit: not re-exported

    raw = bytearray(p1.read_bytes())
    raw[len(raw) // 2] ^= 0x55  # corrupt one byte in the middle of the weights
    p1.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="trt_engines.cache"):
        p2 = onnx_entry(net, inp, model="toy", precision="fp32", profile=None, cache=cache)
    assert "corrupted" in caplog.text and p2 == p1
    assert parity(net, OrtModule(p2, providers=["CPUExecutionProvider"]), inp).ok(1e-5)

    with torch.no_grad():
        net.out[2].bias.add_(0.5)  # fine-tuned weights
    p3 = onnx_entry(net, inp, model="toy", precision="fp32", profile=None, cache=cache)
    assert p3.parent != p1.parent and p1.exists()  # new key, old entry untouched
    assert parity(net, OrtModule(p3, providers=["CPUExecutionProvider"]), inp).ok(1e-5)
    assert len(cache.entries()) == 2
