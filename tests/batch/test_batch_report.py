"""The batch report in a real headless Chromium: it renders, its filters work, every link and image resolves."""
from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from sdk.batch.manifest import PROBLEMS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000"]


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.body, self.rows, self.links, self.imgs = {}, [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "tr" and "data-status" in a:
            self.rows.append(a)
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "img":
            self.imgs.append(a.get("src", ""))


def _dump(url: str) -> _Dom:
    r = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    d = _Dom()
    d.feed(r.stdout)
    return d


def test_report_renders_filters_and_links_resolve(first_run, tmp_path):
    _, expected, out, _ = first_run
    report = out / "report.html"
    entries = json.loads((out / "manifest.json").read_text())["assets"]
    d = _dump(report.as_uri())
    assert d.body["data-assets"] == str(len(expected)) and len(d.rows) == len(expected)
    assert d.body["data-filter"] == "all" and d.body["data-shown"] == str(len(expected))
    # every thumbnail decoded in the browser (none broken), one per done asset and per duplicate of one
    n_previews = sum(1 for e in entries.values() if e["status"] == "done") + \
        sum(1 for e in entries.values() if e["status"] == "duplicate" and e.get("original_status") == "done")
    assert len(d.imgs) == n_previews
    assert d.body["data-images-loaded"] == str(n_previews) and d.body["data-images-broken"] == "0"
    # every link resolves to a file next to (or, for sources, outside) the report
    assert d.links
    for href in d.links + d.imgs:
        u = urlparse(href)
        target = Path(unquote(u.path)) if u.scheme == "file" else (report.parent / unquote(u.path))
        assert target.is_file(), href
    assert any(h.endswith("rig.usda") for h in d.links) and any(h.endswith("joints.usda") for h in d.links)
    # the failures filter (also reachable as report.html#failures) shows exactly the problem rows
    f = _dump(report.as_uri() + "#failures")
    n_fail = sum(1 for e in entries.values() if e["status"] in PROBLEMS)
    assert n_fail >= 6 and f.body["data-filter"] == "failures" and f.body["data-shown"] == str(n_fail)
    shown = [r for r in f.rows if "hidden" not in r.get("class", "")]
    assert len(shown) == n_fail and all(r["data-status"] in PROBLEMS for r in shown)
    # a screenshot of the page: a real rendering (not blank)
    png = tmp_path / "report.png"
    r = subprocess.run([CHROMIUM, *FLAGS, "--window-size=1280,900", f"--screenshot={png}", report.as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and png.exists(), r.stderr[-2000:]
    from PIL import Image
    im = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
    assert im.shape == (900, 1280, 3) and im.std() > 10
