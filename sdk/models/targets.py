"""``articulate compile MODEL``'s model names: ``NAME[:COMPONENT]`` -> a ``trt_engines.targets.Target``.

* ``NAME`` a model of the registry (``sdk.models.registry.MODELS``) that declares a ``compile`` spec:
  ``sp4d-small`` (weights shipped with the package, ``SP4DModel.save`` format), ``sp4d`` and ``sv4d2`` (sgm
  checkpoints at SV4D 2.0 scale, looked up in ``settings.weights_dir``; a missing file raises
  ``MissingWeightsError`` naming it);
* ``COMPONENT`` one of the spec's components (SP4D: ``unet`` (default: one denoising step of the dual-branch
  UNet), ``vae`` (decoder: latents -> images) or ``vae-encoder`` (images -> latents, posterior mode)).

Shorthands without a registry entry (``COMPILE_SHORTHANDS``: ``sp4d-unet``, ``sp4d-vae`` (alias
``sp4d-vae-decoder``) and ``sp4d-vae-encoder``) build the architecture of ``--config`` (tiny | small | full) and
need ``--checkpoint`` or ``--random-weights``. ``--checkpoint`` accepts either format (detected from the
safetensors metadata). Random weights are for tests and benchmarks only.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InvalidInputError
from .registry import COMPILE_SHORTHANDS, MODELS, require_weight


def resolve(name: str, *, config: str | None = None, checkpoint: Path | None = None, random_weights: bool = False,
            batch: int = 1, dynamic_batch: int = 0, seed: int = 0):
    """Build the ``Target`` for ``NAME[:COMPONENT]`` (see the module docstring)."""
    if batch < 1 or (dynamic_batch and dynamic_batch < batch):
        raise InvalidInputError(f"need batch >= 1 and dynamic batch >= batch, got {batch}, {dynamic_batch}",
                                field="batch")
    base, _, component = name.partition(":")
    registry = {k: v for k, v in MODELS.items() if v.compile is not None}
    weights = None
    if base in COMPILE_SHORTHANDS and not component:
        spec = COMPILE_SHORTHANDS[base]
        kind, cfg_name = spec.default_component, config or spec.default_config
    elif base in registry:
        spec = registry[base].compile
        kind, cfg_name = component or spec.components[0], config or spec.default_config
        if kind not in spec.components:
            raise InvalidInputError(f"unknown component {component!r}; choose one of {', '.join(spec.components)}",
                                    field="model")
        weights = lambda: require_weight(base)  # noqa: E731 - looked up only when neither checkpoint nor random
    else:
        raise InvalidInputError(f"unknown model {name!r}; compilable models: {', '.join(list_models())}",
                                field="model")
    return spec.build(name, kind, cfg_name, weights=weights, config=config, checkpoint=checkpoint,
                      random_weights=random_weights, batch=batch, dynamic_batch=dynamic_batch, seed=seed)


def list_models() -> list[str]:
    return [*COMPILE_SHORTHANDS, *(f"{m}[:{'|'.join(s.compile.components)}]" for m, s in MODELS.items()
                                   if s.compile is not None)]
