"""What the compile machinery takes: a module, its example inputs, shape profiles and repeated blocks.

``trt_engines`` knows no models: each model of the registry declares how to build its :class:`Target`
(``sdk.models.registry.ModelSpec.compile``; ``sdk.models.targets.resolve`` parses ``NAME[:COMPONENT]``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from .onnx_export import ShapeProfile


@dataclass
class Target:
    name: str
    module: nn.Module
    inputs: dict                               # input name -> example tensor
    regional: tuple = ()                       # repeated block types for regional torch.compile
    profiles: list[ShapeProfile] = field(default_factory=list)
