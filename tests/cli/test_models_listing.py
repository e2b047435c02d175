"""`articulate models` lists every weight file any command or method can ask for (issue 19): the registry is the one
list. Every place that raises MissingWeightsError is found by walking the source (a new one fails here until it is
covered), each is triggered with an empty weights folder, and the file it names must be in `models --json`."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from sdk.cli import main
from sdk.errors import MissingWeightsError

ROOT = Path(__file__).resolve().parents[2]

# file -> how its MissingWeightsError sites are reached here (each trigger yields the files it names)
COVERED = {
    "sdk/models/registry.py": "registry",  # require_weight: every ModelSpec file
    "sdk/articulation/prior.py": "diffusion",  # DiffusionPrior (joints --prior diffusion)
    "sdk/models/cogvideox/guidance.py": "cogvideox",  # check_checkpoint (animate --method sds)
    "sdk/tracking/cotracker.py": "cotracker",  # needs the user-installed cotracker package to reach the check
    "sdk/models/shapegen4d/tiny.py": "shapegen4d-tiny",  # video-to-4d --weights DIR (a folder of the bundle's layout)
    "sdk/models/atop/prior.py": "atop-public",  # ATOPDiffusionBackend.from_weights: every file checked first
    "sdk/models/atop/openclip.py": "openclip",  # load_openclip and the CLIP tokenizer
}


def _raise_sites() -> set[str]:
    sites = set()
    for top in ("sdk", "trt_engines", "exporters", "engine_bridges"):
        for f in (ROOT / top).rglob("*.py"):
            rel = f.relative_to(ROOT).as_posix()
            if rel == "sdk/errors.py":
                continue
            tree = ast.parse(f.read_text(), rel)
            for n in ast.walk(tree):
                if isinstance(n, ast.Call):
                    fn = n.func.id if isinstance(n.func, ast.Name) else n.func.attr if isinstance(n.func, ast.Attribute) else ""
                    if fn == "MissingWeightsError":
                        sites.add(rel)
    return sites


def test_every_missing_weights_site_is_covered():
    assert _raise_sites() == set(COVERED), "a new MissingWeightsError site: add its trigger to COVERED and below"


@pytest.fixture()
def empty_weights(tmp_path, monkeypatch):
    from sdk.config import settings
    d = tmp_path / "weights"
    d.mkdir()
    monkeypatch.setenv("ARTICULATE_WEIGHTS_DIR", str(d))
    monkeypatch.setattr(settings, "weights_dir", str(d))
    return d


def _listed(capsys) -> set[str]:
    assert main(["models", "--json"]) == 0
    return {r["file"] for r in json.loads(capsys.readouterr().out)}


def _fill_until_done(trigger, folder: Path) -> list[str]:
    """Call ``trigger`` until it stops raising MissingWeightsError, creating each named file (a placeholder) after
    it is named; returns every file named, in order."""
    named = []
    for _ in range(20):
        try:
            trigger()
            return named
        except MissingWeightsError as e:
            assert e.weights_file not in named, f"{e.weights_file} named twice"
            named.append(e.weights_file)
            p = folder / e.weights_file
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"placeholder")
    raise AssertionError(named)


def test_models_lists_every_file_a_command_asks_for(empty_weights, capsys):
    listed = _listed(capsys)
    asked = []
    # registry: every model's every file through require_weight (compile, parts --method sp4d, shapegen4d, ...)
    from sdk.models.registry import MODELS, require_weight
    for spec in MODELS.values():
        for wf in spec.files:
            if wf.bundled:
                continue
            with pytest.raises(MissingWeightsError) as e:
                require_weight(spec.name, wf.filename)
            asked.append(e.value.weights_file)
    # `joints --prior diffusion` (the CLI, then the prior itself file by file)
    rc = main(["joints", str(ROOT / "samples" / "cabinet.obj"), "--all-parts", "--prior", "diffusion", "-o",
               str(empty_weights.parent / "c.usda")])
    err = capsys.readouterr().err
    assert rc == 2 and "imagedream/" in err
    from sdk.articulation.prior import DiffusionPrior
    asked += _fill_until_done(lambda: DiffusionPrior(weights_dir=empty_weights), empty_weights)
    # `animate --method sds`: CogVideoX's checkpoint check, file by file
    from sdk.models.cogvideox.guidance import MODEL_NAME, check_checkpoint
    asked += _fill_until_done(lambda: check_checkpoint(empty_weights / MODEL_NAME), empty_weights)
    # CoTracker3 is reached only with the user-installed package; its file name is the module's constant
    from sdk.tracking.cotracker import WEIGHTS_FILE
    asked.append(WEIGHTS_FILE)
    # `video-to-4d --weights DIR`: the bundle's files, named relative to the folder given
    from sdk.models.shapegen4d.tiny import NAME, load_tiny

    def tiny():
        try:
            load_tiny(empty_weights / "sg4d")
        except MissingWeightsError:
            raise
        except Exception:  # noqa: BLE001 - every file is there (placeholders do not parse): nothing more is asked
            pass
    asked += [f"{NAME}/{f}" for f in _fill_until_done(tiny, empty_weights / "sg4d")]
    # the public ATOP back end checks its four files before building anything; the vocabulary is the last checked,
    # so it is left missing (with it present the 2.3 B-parameter models would be built from placeholders)
    from sdk.models.atop.openclip import VOCAB_FILE, WEIGHTS_FILE, CLIPTokenizer, load_openclip
    from sdk.models.atop.prior import ATOPDiffusionBackend
    from sdk.models.registry import ATOP_DEFAULT_CATEGORY
    public = []
    for _ in range(8):
        with pytest.raises(MissingWeightsError) as e:
            ATOPDiffusionBackend.from_weights(empty_weights, ATOP_DEFAULT_CATEGORY)
        public.append(e.value.weights_file)
        if e.value.weights_file == VOCAB_FILE:
            break
        (empty_weights / e.value.weights_file).parent.mkdir(parents=True, exist_ok=True)
        (empty_weights / e.value.weights_file).write_bytes(b"placeholder")
    # (the ImageDream and motion-module files were created above by the diffusion prior's check: the encoders remain)
    assert public[-1] == VOCAB_FILE and len(set(public)) == len(public) >= 2, public
    asked += public
    # OpenCLIP's own loaders, reached directly (the model argument is not touched before the file check)
    with pytest.raises(MissingWeightsError) as e:
        load_openclip(None, empty_weights / "elsewhere" / WEIGHTS_FILE)
    asked.append(e.value.weights_file)
    with pytest.raises(MissingWeightsError) as e:
        CLIPTokenizer(empty_weights / "elsewhere" / VOCAB_FILE)
    asked.append(e.value.weights_file)
    # the MV-VDM with its IP-Adapter (load_mvvdm: base, IP-Adapter, Animate3D) and IP-Adapter's image encoder
    from sdk.models.mvvdm import checkpoint as mvvdm_ck
    from sdk.models.mvvdm import ip_adapter as mvvdm_ip
    from sdk.models.mvvdm.unet import MVVDMConfig

    def until_parsed(fn):
        def f():
            try:
                fn()
            except MissingWeightsError:
                raise
            except Exception:  # noqa: BLE001 - every file is there (placeholders do not parse)
                pass
        return f
    mv = _fill_until_done(until_parsed(lambda: mvvdm_ck.load_mvvdm(MVVDMConfig.tiny(ip_adapter=True))), empty_weights)
    assert mvvdm_ip.ADAPTER_FILE in mv, mv
    enc = _fill_until_done(until_parsed(mvvdm_ip.load_image_encoder), empty_weights)
    assert enc == [mvvdm_ip.ENCODER_CONFIG, mvvdm_ip.ENCODER_WEIGHTS], enc
    asked += mv + enc
    assert len(asked) > len(MODELS)
    assert [f for f in asked if f not in listed] == []
