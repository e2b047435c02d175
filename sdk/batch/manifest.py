"""The batch manifest: one entry per input file, kept in ``OUT_DIR/manifest.json``.

An entry holds the asset's path (relative to the input folder), its content hash, the task and the options it ran
with (and their hash), its status, output files, error, timings and worker. Writes are crash-safe and cheap at
10k assets: every finished asset appends one JSON line to ``manifest.journal.jsonl`` (flushed and fsynced;
a torn last line is ignored when reading), and the whole manifest is rewritten atomically (temporary file +
rename) at most every ``snapshot_interval_s`` (and at most ``snapshot_budget`` of the driver's time: a 10k-asset
snapshot takes seconds) and at the end, after which the journal is emptied. Reading
replays the journal over the snapshot, so nothing finished is ever lost.

Statuses:
  done         outputs written; skipped on rerun while the content hash, task, options and outputs are unchanged
  failed       the task raised, or its worker died (abort, segfault, out of memory, timeout): retried on rerun
  invalid      the file could not be read / was rejected as input: the same bytes fail the same way, so a rerun
               does not retry it unless the file or the task's options change (or ``retry_invalid``)
  unavailable  the task's module is not installed here: retried on rerun
  unsupported  no task reads this file type
  duplicate    same content hash as an earlier file (``duplicate_of``); its outputs are that file's
  pending      planned but not finished (the batch was cancelled or its driver killed): run on rerun
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..util.atomic import atomic_write_text

MANIFEST = "manifest.json"
JOURNAL = "manifest.journal.jsonl"
VERSION = 1
FINAL = ("done", "invalid", "unsupported", "duplicate")
PROBLEMS = ("failed", "invalid", "unavailable")


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while b := fh.read(chunk):
            h.update(b)
    return h.hexdigest()


def options_hash(task: str, version: str, options: dict) -> str:
    blob = json.dumps({"task": task, "version": version, "options": options}, sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


@dataclass
class Manifest:
    out_dir: Path
    entries: dict[str, dict]
    meta: dict = field(default_factory=dict)  # the last snapshot's non-asset keys (summary of the last run)
    snapshot_interval_s: float = 5.0  # rewrite manifest.json at most this often while a batch runs (ours)
    snapshot_budget: float = 0.05     # ... and spend at most this share of the driver's time on it (ours)
    _last_snapshot: float = 0.0
    _snapshot_cost: float = 0.0
    _journal_fh: object = None

    @classmethod
    def load(cls, out_dir: Path) -> "Manifest":
        out_dir = Path(out_dir)
        entries: dict[str, dict] = {}
        meta: dict = {}
        p = out_dir / MANIFEST
        if p.exists():
            try:
                doc = json.loads(p.read_text())
                entries = dict(doc.get("assets", {}))
                meta = {k: v for k, v in doc.items() if k != "assets"}
            except ValueError:  # a hand-damaged manifest: start again rather than refuse to run
                entries = {}
        j = out_dir / JOURNAL
        if j.exists():
            for line in j.read_text(errors="replace").splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue  # a torn last line from a killed driver
                entries[e["path"]] = e
        return cls(out_dir, entries, meta)

    # ------------------------------------------------------------------ writes
    def record(self, entry: dict) -> None:
        """Store a finished asset: journal line now, snapshot when due."""
        self.entries[entry["path"]] = entry
        if self._journal_fh is None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._journal_fh = open(self.out_dir / JOURNAL, "a", encoding="utf-8")
        self._journal_fh.write(json.dumps(entry, default=str) + "\n")
        self._journal_fh.flush()
        os.fsync(self._journal_fh.fileno())
        wait = max(self.snapshot_interval_s, self._snapshot_cost / self.snapshot_budget)
        if time.monotonic() - self._last_snapshot > wait:
            self.snapshot()

    def snapshot(self, meta: dict | None = None) -> Path:
        t0 = time.monotonic()
        doc = {"version": VERSION, "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(meta or {}),
               "assets": dict(sorted(self.entries.items()))}
        if meta is None:  # keep the last run's metadata
            old = self.out_dir / MANIFEST
            if old.exists():
                try:
                    prev = json.loads(old.read_text())
                    doc = {**{k: v for k, v in prev.items() if k != "assets"}, **doc}
                except ValueError:
                    pass
        p = atomic_write_text(self.out_dir / MANIFEST, json.dumps(doc, indent=1, default=str))
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None
        (self.out_dir / JOURNAL).unlink(missing_ok=True)  # everything in it is in the snapshot now
        self._last_snapshot = time.monotonic()
        self._snapshot_cost = self._last_snapshot - t0
        return p

    def close(self) -> None:
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None
