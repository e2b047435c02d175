"""The SP4D networks through the compile machinery: ONNX parity (tiny config, CPU), the CLI, targets."""
from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("diffusers", reason="SP4D networks are built on diffusers blocks")

from sdk.errors import InvalidInputError  # noqa: E402
from trt_engines.cache import EngineCache  # noqa: E402
from trt_engines.onnx_export import export_onnx, onnx_io, parity  # noqa: E402
from trt_engines.ort import OrtModule  # noqa: E402
from sdk.models.targets import resolve  # noqa: E402


def _perturb(module, seed=0):
    # SP4D zero-initialises BiDiFuse's last conv (identity fusion); perturb so the fusion path is exercised
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))


@pytest.fixture(scope="module")
def unet_onnx(tmp_path_factory):
    tgt = resolve("sp4d-unet", config="tiny", random_weights=True, batch=1)
    _perturb(tgt.module)
    d = tmp_path_factory.mktemp("sp4d")
    return tgt, export_onnx(tgt.module, tgt.inputs, d / "fp32"), d


def test_unet_onnx_fp32_parity(unet_onnx):
    tgt, path, _ = unet_onnx
    ins, outs = onnx_io(path)
    assert ins == ["sample", "c_noise", "cond_latent", "context", "camera", "cond_aug"] and len(outs) == 1
    g = torch.Generator().manual_seed(5)
    fresh = {k: (torch.randn(v.shape, generator=g) if k in ("sample", "cond_latent", "context") else v)
             for k, v in tgt.inputs.items()}
    rep = parity(tgt.module, OrtModule(path, providers=["CPUExecutionProvider"]), fresh)
    assert rep.ok(1e-4), rep


def test_unet_onnx_fp16_parity(unet_onnx):
    tgt, _, d = unet_onnx
    path = export_onnx(tgt.module, tgt.inputs, d / "fp16", precision="fp16")
    sess = OrtModule(path, providers=["CPUExecutionProvider"])
    assert sess.input_dtypes["sample"] == torch.float16 and sess.input_dtypes["c_noise"] == torch.float32
    rep = parity(tgt.module, sess, tgt.inputs)
    assert rep.ok(2e-2) and rep.rel_l2[0] > 1e-6, rep


def test_vae_decoder_onnx_parity(tmp_path):
    tgt = resolve("sp4d-vae", config="tiny", random_weights=True)
    assert list(tgt.inputs) == ["latents"] and tgt.inputs["latents"].shape == (4, 4, 8, 8)
    path = export_onnx(tgt.module, tgt.inputs, tmp_path / "vae")
    rep = parity(tgt.module, OrtModule(path, providers=["CPUExecutionProvider"]), tgt.inputs)
    assert rep.ok(1e-4), rep


def test_targets_reject_bad_requests():
    with pytest.raises(InvalidInputError, match="unknown model"):
        resolve("sd-unet", config="tiny", random_weights=True)
    with pytest.raises(InvalidInputError, match="--checkpoint"):
        resolve("sp4d-unet", config="tiny")
    with pytest.raises(InvalidInputError, match="unknown config"):
        resolve("sp4d-unet", config="huge", random_weights=True)


def test_cli_compile_onnxruntime_and_cache(tmp_path, capsys):
    from sdk.cli import main
    argv = ["compile", "sp4d-vae-encoder", "--config", "tiny", "--random-weights", "--backend", "onnxruntime",
            "--precision", "fp32", "--device", "cpu", "--cache-dir", str(tmp_path)]
    assert main(argv) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["backend"] == "onnxruntime" and rep["rel_l2"][0] < 1e-4
    entries = EngineCache(tmp_path).entries()
    assert len(entries) == 1 and entries[0]["key"]["model"] == "sp4d-vae-encoder"
    assert main(["compile", "--list", "--cache-dir", str(tmp_path)]) == 0
    assert "sp4d-vae-encoder" in capsys.readouterr().out
    assert main(["compile", "sp4d-unet", "--config", "tiny", "--cache-dir", str(tmp_path)]) == 2  # no weights


def _bundled_small():
    from sdk.models.registry import find_weight
    p = find_weight("sp4d_small.safetensors")
    if p is None:
        pytest.skip("bundled sp4d_small.safetensors is not in this checkout")
    return p


def test_registry_small_model_real_weights(tmp_path, capsys):
    """The registry's sp4d-small loads the shipped weights; its VAE decoder compiles through the CLI."""
    from sdk.cli import main
    from sdk.models.sp4d.model import SP4DModel
    from trt_engines.cache import weights_hash
    ref = SP4DModel.load(_bundled_small())
    tgt = resolve("sp4d-small")
    assert weights_hash(tgt.module) == weights_hash(ref.unet)
    c = ref.cfg
    assert tgt.inputs["sample"].shape == (1, c.num_views, c.num_frames, 2 * c.latent_channels, c.latent_size,
                                          c.latent_size)
    assert main(["compile", "sp4d-small:vae", "--backend", "onnxruntime", "--precision", "fp32", "--device", "cpu",
                 "--cache-dir", str(tmp_path)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["model"] == "sp4d-small:vae" and rep["rel_l2"][0] < 1e-4
    [entry] = EngineCache(tmp_path).entries()
    # the cached ONNX is keyed by the shipped VAE's weights (wrapped as VaeDecode.vae)
    assert entry["key"]["weights_hash"] == weights_hash({f"vae.{k}": v for k, v in ref.vae.state_dict().items()})


def test_registry_missing_weights_and_bad_component(tmp_path):
    from sdk.config import settings
    from sdk.errors import MissingWeightsError
    old = settings.weights_dir
    settings.weights_dir = tmp_path  # empty: sp4d.safetensors is not there
    try:
        with pytest.raises(MissingWeightsError, match="sp4d.safetensors"):
            resolve("sp4d")
    finally:
        settings.weights_dir = old
    with pytest.raises(InvalidInputError, match="unknown component"):
        resolve("sp4d-small:text-encoder")
