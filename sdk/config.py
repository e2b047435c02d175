"""One typed configuration for the SDK: cache and weight directories, backends, defaults.

Values come from environment variables (``ARTICULATE_*``) and can be overridden in code::

    from sdk import config
    config.settings.cache_dir = "/tmp/cache"
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env_path(name: str, default: Path) -> Path:
    v = os.environ.get(name)
    return Path(v).expanduser() if v else default


@dataclass
class Settings:
    #: root of every cache the SDK writes (compiled engines, kernel caches)
    cache_dir: Path = field(default_factory=lambda: _env_path(
        "ARTICULATE_CACHE_DIR", Path.home() / ".cache" / "articulate"))
    #: where learned models look for checkpoint files
    weights_dir: Path = field(default_factory=lambda: _env_path(
        "ARTICULATE_WEIGHTS_DIR", Path.home() / ".cache" / "articulate" / "weights"))
    #: torch device for heavy work: "auto" picks cuda when available
    device: str = field(default_factory=lambda: os.environ.get("ARTICULATE_DEVICE", "auto"))
    #: compiled backend for diffusion networks: eager | torch_compile | onnxruntime | tensorrt
    backend: str = field(default_factory=lambda: os.environ.get("ARTICULATE_BACKEND", "eager"))
    #: show progress bars (tqdm) on long work
    progress: bool = field(default_factory=lambda: os.environ.get("ARTICULATE_PROGRESS", "1") != "0")

    @property
    def engine_cache_dir(self) -> Path:
        return self.cache_dir / "engines"

    def torch_device(self):
        import torch
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


settings = Settings()
