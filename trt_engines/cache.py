"""On-disk cache of compiled engines (ONNX files, TensorRT plans, inductor artefacts).

An entry is keyed by everything that makes a compiled artefact valid:

    weights hash + precision + shape bucket + backend + backend version + GPU SM

and lives in ``<settings.engine_cache_dir>/<backend>/<model>-<key digest>/`` as the payload files plus a
``manifest.json`` that records the full key and the SHA-256 of every payload file. A lookup re-hashes the
payload: a truncated, overwritten or otherwise corrupted file, or a manifest whose key does not match the one
asked for (stale entry), is reported, deleted and rebuilt. Changing the weights changes the weights hash, hence
the key and the directory: an engine built for other weights is never returned.

Writes are atomic (payload built in a temporary directory beside the entry, renamed into place), so a crash
mid-build leaves no half entry behind.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping

import torch

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_FORMAT = 1  # bump when the manifest layout changes: old entries then read as stale


def weights_hash(module: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex, first 16 bytes) over a module's state dict: names, dtypes, shapes and raw bytes.

    Parameters and buffers are visited in sorted name order, so the hash does not depend on registration order;
    any changed element, dtype or shape changes it.
    """
    sd = module.state_dict() if isinstance(module, torch.nn.Module) else dict(module)
    h = hashlib.sha256()
    for name in sorted(sd):
        t = sd[name]
        if not isinstance(t, torch.Tensor):
            h.update(f"{name}={t!r};".encode())
            continue
        t = t.detach()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        if t.numel():
            # raw bytes, dtype-agnostic (bf16 has no numpy dtype): view as uint8 on the host
            b = t.contiguous().cpu().reshape(-1).view(torch.uint8).numpy()
            h.update(memoryview(b))
    return h.hexdigest()[:32]


def gpu_sm(device: torch.device | str | None = None) -> str:
    """``"sm90"`` for an H100, ``"cpu"`` when the device is not CUDA (or CUDA is absent)."""
    device = torch.device(device) if device is not None else None
    if device is not None and device.type != "cuda":
        return "cpu"
    if not torch.cuda.is_available():
        return "cpu"
    major, minor = torch.cuda.get_device_capability(device)
    return f"sm{major}{minor}"


@dataclass(frozen=True)
class EngineKey:
    """Everything that decides whether a compiled artefact can be reused."""

    model: str            # registry name, e.g. "sp4d-unet"
    weights_hash: str     # weights_hash(module)
    precision: str        # fp32 | fp16 | bf16 | fp8
    bucket: str           # ShapeProfile.bucket_id(): "x=1x8x72x72,t=1" or "dyn[...]"
    backend: str          # onnxruntime | tensorrt | torch_compile
    backend_version: str  # e.g. tensorrt.__version__, or "onnx-opset17+torch2.13"
    sm: str               # gpu_sm(): "sm90" | "cpu"

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:20]

    def dirname(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.model)
        return f"{safe}-{self.digest()}"


def _file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


class EngineCache:
    """Directory of compiled engines, verified by hash on every lookup.

    ``root`` defaults to ``sdk.config.settings.engine_cache_dir`` (``$ARTICULATE_CACHE_DIR/engines``).
    """

    def __init__(self, root: str | os.PathLike | None = None):
        if root is None:
            from sdk.config import settings
            root = settings.engine_cache_dir
        self.root = Path(root)

    def entry_dir(self, key: EngineKey) -> Path:
        return self.root / key.backend / key.dirname()

    # -- reading -------------------------------------------------------------------------------------------
    def lookup(self, key: EngineKey) -> Path | None:
        """The entry's directory if present and intact; ``None`` (after deleting a bad entry) otherwise."""
        d = self.entry_dir(key)
        if not d.is_dir():
            return None
        problem = self.verify(d, key)
        if problem is None:
            return d
        log.warning("engine cache: %s is %s; rebuilding", d, problem)
        shutil.rmtree(d, ignore_errors=True)
        return None

    def verify(self, d: Path, key: EngineKey) -> str | None:
        """``None`` when ``d`` holds an intact entry for ``key``, else a short description of what is wrong."""
        mf = d / MANIFEST
        try:
            manifest = json.loads(mf.read_text())
        except (OSError, ValueError) as e:
            return f"corrupted (manifest unreadable: {e})"
        if manifest.get("format") != _FORMAT or manifest.get("key") != asdict(key):
            return "stale (manifest key differs from the requested key)"
        files = manifest.get("files") or {}
        if not files:
            return "corrupted (manifest lists no files)"
        for name, meta in files.items():
            p = d / name
            if not p.is_file():
                return f"corrupted (missing {name})"
            if p.stat().st_size != meta["size"]:
                return f"corrupted ({name} has {p.stat().st_size} bytes, manifest says {meta['size']})"
            if _file_sha256(p) != meta["sha256"]:
                return f"corrupted ({name} hash mismatch)"
        return None

    def payload(self, key: EngineKey, name: str) -> Path | None:
        d = self.lookup(key)
        return None if d is None else d / name

    # -- writing -------------------------------------------------------------------------------------------
    def get_or_build(self, key: EngineKey, build: Callable[[Path], None], *, extra: dict | None = None) -> Path:
        """Return the intact entry directory for ``key``, building it with ``build(tmp_dir)`` when needed.

        ``build`` writes its payload files into ``tmp_dir``; every regular file it leaves there is hashed into
        the manifest. ``extra`` (JSON-serialisable) is stored in the manifest for humans and tools.
        """
        d = self.lookup(key)
        if d is not None:
            log.info("engine cache hit: %s", d)
            return d
        d = self.entry_dir(key)
        d.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{d.name}.", dir=d.parent))
        try:
            t0 = time.perf_counter()
            build(tmp)
            files = {}
            for p in sorted(tmp.rglob("*")):
                if p.is_file():
                    rel = p.relative_to(tmp).as_posix()
                    files[rel] = {"size": p.stat().st_size, "sha256": _file_sha256(p)}
            if not files:
                raise RuntimeError(f"engine build for {key.model} ({key.backend}) wrote no files")
            manifest = {"format": _FORMAT, "key": asdict(key), "files": files,
                        "build_seconds": round(time.perf_counter() - t0, 3), "created": time.time(),
                        "extra": extra or {}}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            if d.exists():  # a concurrent builder won, or a bad entry appeared: replace it
                shutil.rmtree(d, ignore_errors=True)
            os.replace(tmp, d)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        log.info("engine cache: built %s", d)
        return d

    def entries(self) -> list[dict]:
        """Manifests of every entry under the root (for ``articulate compile --list``)."""
        out = []
        for mf in sorted(self.root.glob(f"*/*/{MANIFEST}")):
            try:
                m = json.loads(mf.read_text())
                m["path"] = str(mf.parent)
                out.append(m)
            except (OSError, ValueError):
                continue
        return out

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
