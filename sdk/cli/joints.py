"""``articulate joints INPUT --part NAME [--prompt TEXT] -o OUT.usda`` (or ``--all-parts``; ``.urdf`` by extension).

INPUT: OBJ (groups = parts), glTF/GLB (nodes), USD (mesh prims), PLY (part labels), or URDF/MJCF (links; the
file's own joints are ignored and re-estimated). A preview PNG and GIF are written next to the output.
"""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def load_any(path):
    """Any asset the format registry reads (URDF/MJCF links become parts)."""
    from ..io import load_asset
    return load_asset(path)


def parse_prompts(args, asset) -> dict:
    """{part: prompt} from ``--prompt PART=TEXT`` (any mode) and plain ``--prompt TEXT`` (one per ``--part``)."""
    from ..errors import InvalidInputError
    names = list(asset.parts.names) if asset.parts is not None else []
    if args.part:
        if asset.parts is None:
            raise InvalidInputError(f"{args.input} has no parts; use an input with groups/nodes/prims/links",
                                    field="part")
        for n in args.part:
            if n not in names:
                raise InvalidInputError(f"--part {n}: no such part; the input has parts: {', '.join(names)}",
                                        field="part")
    keyed, plain = {}, []
    for t in args.prompt or []:
        head, eq, text = t.partition("=")
        if eq and head.strip() and " " not in head.strip():
            part = head.strip()
            if part not in names:
                raise InvalidInputError(f"--prompt {part}=...: no such part; the input has parts: "
                                        f"{', '.join(names) or '(none)'}", field="prompt")
            if args.part and part not in args.part:
                raise InvalidInputError(f"--prompt {part}=...: '{part}' is not one of the --part parts "
                                        f"({', '.join(args.part)})", field="prompt")
            keyed[part] = text.strip()
        else:
            plain.append(t)
    if plain:
        if not args.part:
            raise InvalidInputError(f"--prompt {plain[0]!r}: with --all-parts name the part, as --prompt "
                                    f"PART=TEXT (parts: {', '.join(names)})", field="prompt")
        if len(plain) not in (1, len(args.part)):
            raise InvalidInputError(f"{len(plain)} prompts for {len(args.part)} parts", field="prompt")
        for i, n in enumerate(args.part):
            keyed.setdefault(n, plain[i if len(plain) > 1 else 0])
    return keyed


def register(sub):
    p = sub.add_parser("joints", help="estimate joints of a prop's parts (ATOP search + physics prior) and export "
                                      "UsdPhysics USD or URDF")
    p.add_argument("input", help="OBJ (groups = parts), glTF/GLB (nodes), USD (mesh prims), PLY (part labels) or "
                                  "URDF/MJCF (links; their joints are re-estimated)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--part", action="append", help="part name (repeatable)")
    g.add_argument("--all-parts", action="store_true", help="articulate every part but the root body")
    p.add_argument("--prompt", action="append",
                   help="motion prompt (repeatable): PART=TEXT for one part (e.g. link_0='open the door'; works with "
                        "--all-parts), or plain TEXT: one per --part, in order")
    p.add_argument("-o", "--output", required=True, help="OUT.usda / .usd / .usdc or OUT.urdf")
    from ..articulation.methods import AXIS_ESTIMATORS, PRIORS
    p.add_argument("--method", choices=AXIS_ESTIMATORS.names(), default="atop_search",
                   help="joint axis estimator (default atop_search: ATOP's search over candidate axes)")
    p.add_argument("--prior", choices=PRIORS.names(), default="physics",
                   help="motion prior: physics (weight-free, default) or diffusion (ATOP's model: needs the weight "
                        "files `articulate models` lists for atop)")
    p.add_argument("--up", choices=["x", "y", "z"], default=None, help="up axis (default: z for URDF/MJCF, else y)")
    p.add_argument("--no-preview", action="store_true", help="do not write OUT_preview.png / .gif")
    p.set_defaults(func=run, inputs={"input": "asset"})


def run(args) -> int:
    from ..core import Articulation
    from ..errors import InvalidInputError
    from ..articulation.articulate import ArticulateConfig, articulate_object
    from ..io import formats
    out = Path(args.output)
    formats.check_output(out, "articulation")
    asset = load_any(args.input)
    prompts = parse_prompts(args, asset)
    if args.prior == "diffusion":
        from ..articulation.prior import DiffusionPrior
        import sdk.models.atop.prior  # noqa: F401 - registers the back end (models sit above articulation)
        DiffusionPrior()  # the weight files first: MissingWeightsError names each one (see `articulate models`)
    cfg = ArticulateConfig(prior=args.prior, method=args.method, up_axis=args.up)
    import sys
    import warnings
    from ..errors import ArticulationWarning
    from ..util.progress import cli_bar
    with warnings.catch_warnings(record=True) as caught, cli_bar("joints") as progress:
        warnings.simplefilter("always", ArticulationWarning)
        art: Articulation = articulate_object(asset, prompts, config=cfg, only=args.part, progress=progress)
    for w in caught:
        if issubclass(w.category, ArticulationWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    for j in art.joints:
        if j.type == "fixed":
            if "fixed_reason" in j.extra:
                print(f"{j.child:>16s} <- {j.parent:<12s} fixed      ({j.extra['fixed_reason']})")
            continue
        lim = (f"[{j.lower:.3f}, {j.upper:.3f}] rad" if j.type == "revolute" else
               f"[{j.lower:.4f}, {j.upper:.4f}]" if j.type == "prismatic" else "free")
        print(f"{j.child:>16s} <- {j.parent:<12s} {j.type:10s} axis {tuple(round(float(x), 3) for x in j.axis)} "
              f"origin {tuple(round(float(x), 3) for x in j.origin)} limits {lim} confidence {j.confidence:.2f}")
    up = args.up or formats.up_axis_of(args.input)
    formats.save(art, out, **formats.scene_options(out, up_axis=up.upper() if up != "x" else "Y"))
    print(f"wrote {out}")
    if not args.no_preview:
        from ..articulation.preview import write_preview
        for suf in (".png", ".gif"):
            pp = out.with_name(out.stem + "_preview" + suf)
            write_preview(art, pp, up=up)
            print(f"wrote {pp}")
    return 0
