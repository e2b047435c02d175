"""``articulate batch INPUT_DIR -o OUT_DIR --task rig|rig-from-motion|joints|mesh-cache|auto``: a folder on Ray.

Local Ray on this machine by default; ``--ray-address auto|HOST:PORT`` runs the same batch on a Ray cluster
(INPUT_DIR and OUT_DIR must then be on a filesystem every node mounts at the same path). Resumable: rerun the
same command and only new, changed, failed or option-affected assets run. Writes OUT_DIR/manifest.json and
OUT_DIR/report.html. Exit code 0 when every asset is done or skipped with a reason (unsupported, duplicate),
1 when some failed, were rejected as input or had no task available (all listed in the report), 2 on bad
arguments.
"""
from __future__ import annotations

import json
import sys


def _value(text: str):
    """--set values: JSON when it parses (4, 0.5, true, null, "x"), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def register(sub):
    p = sub.add_parser("batch", help="run a task over a folder of assets on Ray (resumable, HTML report)",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("input", nargs="?", help="folder of assets (searched recursively)")
    p.add_argument("-o", "--output", help="output folder (per-asset outputs, manifest.json, report.html)")
    p.add_argument("--task", default="auto",
                   help="rig | rig-from-motion | joints | mesh-cache | auto (per file: .npz/animated glTF -> "
                        "rig-from-motion, props with door/drawer/lid/... parts and URDF -> joints, other meshes -> rig)")
    p.add_argument("--set", dest="options", action="append", default=[], metavar="NAME=VALUE",
                   help="task option (repeatable), e.g. --set rig.method=heat --set max_influences=8 --set format=glb (TASK.NAME: one task only); "
                        "each task reads its own (see --list-tasks); changing one re-runs only the assets it affects")
    p.add_argument("--ray-address", default=None, help="join a Ray cluster: auto or HOST:PORT (default: local Ray)")
    p.add_argument("--workers", type=int, default=None, help="worker actors (default: every CPU Ray has)")
    p.add_argument("--gpus-per-task", type=float, default=0.0, help="GPU share of each GPU task (e.g. 0.25)")
    p.add_argument("--max-retries", type=int, default=1, help="retries of an asset whose worker died (default 1)")
    p.add_argument("--memory-limit-mb", type=int, default=4096,
                   help="memory one task may allocate beyond its worker's baseline; past it the asset fails with "
                        "'out of memory' (default 4096; 0: no limit)")
    p.add_argument("--task-timeout", type=float, default=None, help="seconds before a task is killed (default: none)")
    p.add_argument("--retry-invalid", action="store_true", help="also redo files rejected as input last time")
    p.add_argument("--force", action="store_true", help="redo every asset")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--list-tasks", action="store_true", help="list tasks, their options and defaults, and exit")
    p.set_defaults(func=run, inputs={"input": "folder"})


def run(args) -> int:
    from ..batch import BatchConfig, run_batch
    from ..batch.tasks import TASKS
    from ..config import settings
    from ..errors import InvalidInputError
    if args.list_tasks:
        for name, spec in sorted(TASKS.items()):
            miss = spec.missing()
            print(f"{name}{'  (unavailable: needs ' + miss + ')' if miss else ''}: {spec.help}")
            print(f"    reads {' '.join(spec.suffixes)}")
            print("    options " + ", ".join(f"{k}={json.dumps(v)}" for k, v in spec.defaults.items()))
        return 0
    if not args.input or not args.output:
        raise InvalidInputError("give INPUT_DIR and -o OUT_DIR", field="INPUT_DIR" if not args.input else "--output")
    options = {}
    for kv in args.options:
        if "=" not in kv:
            raise InvalidInputError(f"--set expects NAME=VALUE, got '{kv}'", field="--set")
        k, v = kv.split("=", 1)
        options[k.strip()] = _value(v)
    for flag, val, lo in (("--workers", args.workers, 1), ("--max-retries", args.max_retries, 0),
                          ("--memory-limit-mb", args.memory_limit_mb, 0)):
        if val is not None and val < lo:
            raise InvalidInputError(f"{flag} must be >= {lo}", field=flag)
    if args.gpus_per_task < 0:
        raise InvalidInputError("--gpus-per-task must be >= 0", field="--gpus-per-task")
    cfg = BatchConfig(task=args.task, options=options, workers=args.workers, ray_address=args.ray_address,
                      gpus_per_task=args.gpus_per_task, max_retries=args.max_retries,
                      memory_limit_mb=args.memory_limit_mb or None, task_timeout_s=args.task_timeout,
                      retry_invalid=args.retry_invalid, force=args.force, report=not args.no_report,
                      progress_bar=settings.progress)
    try:
        s = run_batch(args.input, args.output, cfg)
    except KeyboardInterrupt:
        print(f"interrupted: finished assets are recorded in {args.output}/manifest.json; rerun the same command to "
              f"resume", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        st = ", ".join(f"{v} {k}" for k, v in s["status"].items())
        rate = f", {s['throughput_per_min']:.1f} assets/min" if s.get("throughput_per_min") else ""
        ran = (f"ran {s['processed']} in {s['run_s']:.1f}s{rate} (+{s['startup_s']:.1f}s Ray start-up, "
               f"{sum(s.get('workers', {}).values())} workers)" if s["processed"] else "nothing to do")
        print(f"{s['total']} assets: {st}; {ran}; {s['skipped']} unchanged skipped")
        print(f"manifest {s['manifest']}")
        if s.get("report"):
            print(f"report {s['report']}")
    bad = sum(s["status"].get(k, 0) for k in ("failed", "invalid", "unavailable"))
    if bad:
        print(f"{bad} asset(s) not processed: see the report's 'failures' filter", file=sys.stderr)
    return 1 if bad else 0
