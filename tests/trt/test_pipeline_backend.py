"""The SP4D pipeline runs its UNet through the configured backend and falls back to eager with a warning."""
import pytest
import torch

from sdk.config import settings


def test_sp4d_generate_uses_configured_backend_with_eager_fallback(monkeypatch):
    from sdk.models.registry import require_weight
    from sdk.models.sp4d.model import SP4DModel
    from trt_engines.select import BackendFallbackWarning
    model = SP4DModel.load(require_weight("sp4d-small"), device=torch.device("cpu"))
    cfg, res = model.cfg, model.meta.image_size
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(1, cfg.num_views, cfg.num_frames, 3, res, res, generator=g)
    cam = torch.zeros(1, cfg.num_views, 2)

    monkeypatch.setattr(settings, "backend", "eager")
    ref = model.generate(rgb, rgb[:, 0], cam, steps=1, seed=3)[1]
    assert model.net.num_built == 0  # eager without a precision runs the module untouched

    monkeypatch.setattr(settings, "backend", "tensorrt")  # not installable here -> eager fallback, warned
    with pytest.warns(BackendFallbackWarning, match="tensorrt"):
        out = model.generate(rgb, rgb[:, 0], cam, steps=1, seed=3)[1]
    assert model.net.num_built == 1
    assert torch.allclose(out, ref, atol=1e-5)
