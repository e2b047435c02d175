"""``OUT_DIR/report.html``: one static page (no server, no CDN, plain JS) listing every asset of a batch.

A summary (counts per status, throughput, time), filter buttons (all / done / failures / skipped, also
selectable as ``report.html#failures``), a text filter, and a table row per asset: preview thumbnail, asset
(link to the source file), task, status, bones / joints, validation findings, outputs (links), time, error.
Every link is relative to the report, so the folder can be moved or zipped as a whole.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

from ..util.atomic import atomic_write_text
from .manifest import PROBLEMS

REPORT = "report.html"
#: rows beyond this get lazily loaded thumbnails (a 10k-asset page stays responsive); ours
LAZY_AFTER = 300

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:20px;margin:0 0 8px}
.summary{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0 12px}
.card{border:1px solid #ddd;border-radius:6px;padding:6px 10px;min-width:90px}
.card b{display:block;font-size:18px}
.filters{margin:8px 0;display:flex;gap:6px;align-items:center}
.filters button{border:1px solid #999;background:#f4f4f4;border-radius:4px;padding:4px 10px;cursor:pointer}
.filters button.active{background:#2d6cdf;color:#fff;border-color:#2d6cdf}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#fafafa;position:sticky;top:0}
td.thumb img{width:96px;height:auto;border:1px solid #eee;background:#fff}
.st{display:inline-block;padding:1px 6px;border-radius:8px;font-size:12px;color:#fff}
.st-done{background:#2e8b57}.st-failed{background:#c0392b}.st-invalid{background:#d35400}
.st-unavailable{background:#8e44ad}.st-pending{background:#2980b9}.st-unsupported{background:#7f8c8d}.st-duplicate{background:#95a5a6}
.err{color:#a00;font-family:monospace;font-size:12px;max-width:480px;white-space:pre-wrap;word-break:break-word}
.find{font-size:12px;max-width:360px}
tr.hidden{display:none}
"""

_JS = """
(function(){
  var rows = Array.prototype.slice.call(document.querySelectorAll('#assets tbody tr'));
  var buttons = Array.prototype.slice.call(document.querySelectorAll('.filters button'));
  var search = document.getElementById('search');
  var groups = {all: null, done: ['done'], failures: %PROBLEMS%, skipped: ['unsupported', 'duplicate']};
  var current = 'all';
  function apply(){
    var q = (search.value || '').toLowerCase(), shown = 0;
    rows.forEach(function(r){
      var g = groups[current], ok = (!g || g.indexOf(r.dataset.status) >= 0) &&
              (!q || r.textContent.toLowerCase().indexOf(q) >= 0);
      r.classList.toggle('hidden', !ok); if (ok) shown++;
    });
    buttons.forEach(function(b){ b.classList.toggle('active', b.dataset.filter === current); });
    document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' shown';
    document.body.dataset.filter = current; document.body.dataset.shown = shown;
  }
  buttons.forEach(function(b){ b.addEventListener('click', function(){
    current = b.dataset.filter; history.replaceState(null, '', '#' + current); apply(); }); });
  search.addEventListener('input', apply);
  var h = location.hash.replace('#', ''); if (groups.hasOwnProperty(h)) current = h;
  apply();
  function checkImages(){
    var imgs = Array.prototype.slice.call(document.images), broken = 0, loaded = 0;
    imgs.forEach(function(i){ if (i.complete && i.naturalWidth > 0) loaded++; else if (i.complete) broken++; });
    document.body.dataset.imagesLoaded = loaded; document.body.dataset.imagesBroken = broken;
  }
  window.addEventListener('load', checkImages);
})();
"""


def _rel(target: Path, base: Path) -> str:
    return Path(os.path.relpath(target, base)).as_posix()


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _count_cell(e: dict) -> str:
    s = e.get("stats") or {}
    parts = []
    if "bones" in s:
        parts.append(f"{s['bones']} bones")
    if "joints" in s:
        parts.append(f"{s['joints']} joints")
    if "frames" in s:
        parts.append(f"{s['frames']} frames")
    if "vertices" in s:
        parts.append(f"{s['vertices']} verts")
    return "<br>".join(parts)


def _findings_cell(e: dict) -> str:
    f = e.get("findings") or []
    if not f:
        return "none" if e.get("status") == "done" else ""
    items = "".join(f"<li>[{_e(x.get('validator', ''))}] {_e(x.get('message', ''))[:300]}</li>" for x in f[:20])
    return f"<details class='find'><summary>{len(f)} finding{'s' if len(f) != 1 else ''}</summary><ul>{items}</ul></details>"


def write_report(out_dir, entries: dict[str, dict], summary: dict) -> Path:
    out_dir = Path(out_dir)
    path = out_dir / REPORT
    rows = []
    for i, (rel, e) in enumerate(sorted(entries.items())):
        st = e.get("status", "?")
        adir = out_dir / (e.get("out_dir") or "")
        outs = e.get("outputs") or {}
        if st == "duplicate" and e.get("original_out_dir"):
            adir = out_dir / e["original_out_dir"]
            orig = entries.get(e.get("duplicate_of", ""), {})
            outs = orig.get("outputs") or {} if orig.get("status") == "done" else {}
        thumb = ""
        if "preview" in outs and (adir / outs["preview"]).exists():
            lazy = " loading='lazy'" if i >= LAZY_AFTER else ""
            src = _e(_rel(adir / outs["preview"], out_dir))
            thumb = f"<a href='{src}'><img src='{src}' alt='preview of {_e(rel)}'{lazy}></a>"
        links = " ".join(f"<a class='out' href='{_e(_rel(adir / f, out_dir))}'>{_e(role)}</a>"
                         for role, f in outs.items() if role != "preview" and not role.startswith("layer:")
                         and (adir / f).exists())
        src = e.get("source")
        asset = (f"<a class='src' href='{_e(_rel(Path(src), out_dir))}'>{_e(rel)}</a>" if src and Path(src).exists()
                 else _e(rel))
        t = (e.get("timings") or {}).get("task")
        err = e.get("error") or ""
        if st == "duplicate":
            err = f"same content as {e.get('duplicate_of')}"
        rows.append(
            f"<tr data-status='{_e(st)}' data-task='{_e(e.get('task') or '')}'>"
            f"<td class='thumb'>{thumb}</td><td>{asset}</td><td>{_e(e.get('task') or '')}</td>"
            f"<td><span class='st st-{_e(st)}'>{_e(st)}</span>{' x' + str(e['attempts']) if e.get('attempts', 1) > 1 else ''}</td>"
            f"<td>{_count_cell(e)}</td><td>{_findings_cell(e)}</td><td>{links}</td>"
            f"<td>{'' if t is None else f'{t:.2f} s'}</td><td class='err'>{_e(err)[:600]}</td></tr>")
    by = summary.get("status", {})
    times = sorted(e["timings"]["task"] for e in entries.values()
                   if e.get("status") == "done" and (e.get("timings") or {}).get("task") is not None)
    med = times[len(times) // 2] if times else None
    tasks: dict[str, int] = {}
    for e in entries.values():
        if e.get("task"):
            tasks[e["task"]] = tasks.get(e["task"], 0) + 1
    cards = [("assets", len(entries))] + [(k, v) for k, v in by.items()]
    cards += [("run this time", summary.get("processed", 0)), ("skipped (unchanged)", summary.get("skipped", 0))]
    last = summary.get("last_processing_run") or {}
    if last.get("processed"):
        w = sum((last.get("workers") or {}).values())
        cards.append((f"last run: assets/min ({last['processed']} on {w} workers)", last.get("throughput_per_min")))
        cards.append(("last run: time (+ Ray start-up)", f"{last.get('run_s', 0):.1f} s (+{last.get('startup_s', 0):.1f} s)"))
    if med is not None:
        cards.append(("median task", f"{med:.2f} s"))
    card_html = "".join(f"<div class='card' data-card='{_e(k)}'><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards)
    n_fail = sum(by.get(s, 0) for s in PROBLEMS)
    title = f"Batch report: {Path(summary.get('input_dir', '')).name or 'assets'}"
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body data-assets="{len(entries)}" data-failures="{n_fail}">
<h1>{_e(title)}</h1>
<div>task <code>{_e(summary.get('task', ''))}</code> ({_e(', '.join(f'{k}: {v}' for k, v in sorted(tasks.items())))}),
input <code>{_e(summary.get('input_dir', ''))}</code>, manifest <a href="manifest.json">manifest.json</a></div>
<div class="summary">{card_html}</div>
<div class="filters"><button data-filter="all">all</button><button data-filter="done">done</button>
<button data-filter="failures">failures ({n_fail})</button><button data-filter="skipped">skipped</button>
<input id="search" type="search" placeholder="filter by name, task, error"><span id="shown"></span></div>
<table id="assets"><thead><tr><th>preview</th><th>asset</th><th>task</th><th>status</th><th>bones / joints</th>
<th>validation</th><th>outputs</th><th>time</th><th>error</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<script>{_JS.replace('%PROBLEMS%', json.dumps(list(PROBLEMS)))}</script>
</body></html>
"""
    return atomic_write_text(path, doc)
