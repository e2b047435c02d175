"""ONNX export of the diffusion networks with static or dynamic shape profiles, and a parity check.

A network is exported with the names of its ``forward`` parameters as ONNX input names, so the ONNX Runtime and
TensorRT wrappers can be called exactly like the torch module (positional or keyword arguments).

Shape profiles (:class:`ShapeProfile`) carry a ``(min, opt, max)`` shape per input. A static profile
(min == opt == max) exports a fully static graph — the latency path, one engine per shape bucket. A dynamic
profile marks every axis that differs between min and max as symbolic in the ONNX graph; TensorRT then builds
one engine covering the range (the fallback for shapes outside the buckets).

We use the TorchScript-based exporter (``dynamo=False``): it needs no ``onnxscript`` and handles
``scaled_dot_product_attention``, ``GroupNorm`` and the reshapes of the UNets. Networks above 2 GiB of weights
are written with external data (``model.onnx`` + ``model.onnx.data``), which ONNX Runtime and TensorRT's parser
both read.
"""
from __future__ import annotations

import inspect
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch

from sdk.errors import InvalidInputError

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17
ONNX_FILE = "model.onnx"
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ShapeProfile:
    """``(min, opt, max)`` shape per named input. Static when all three agree for every input."""

    shapes: Mapping[str, tuple[Shape, Shape, Shape]] = field(default_factory=dict)

    @classmethod
    def static(cls, shapes: Mapping[str, Sequence[int]]) -> "ShapeProfile":
        return cls({k: (tuple(v), tuple(v), tuple(v)) for k, v in shapes.items()})

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, torch.Tensor]) -> "ShapeProfile":
        return cls.static({k: tuple(v.shape) for k, v in inputs.items() if isinstance(v, torch.Tensor)})

    def __post_init__(self):
        for name, (lo, opt, hi) in self.shapes.items():
            if not (len(lo) == len(opt) == len(hi)):
                raise InvalidInputError(f"min/opt/max ranks differ: {lo} {opt} {hi}", field=f"profile[{name}]")
            if any(not (a <= b <= c) for a, b, c in zip(lo, opt, hi)):
                raise InvalidInputError(f"need min <= opt <= max per axis, got {lo} {opt} {hi}",
                                        field=f"profile[{name}]")

    @property
    def is_static(self) -> bool:
        return all(lo == opt == hi for lo, opt, hi in self.shapes.values())

    def contains(self, shapes: Mapping[str, Sequence[int]]) -> bool:
        """Whether concrete input shapes fall inside the profile."""
        for name, (lo, _, hi) in self.shapes.items():
            s = tuple(shapes.get(name, ()))
            if len(s) != len(lo) or any(not (a <= x <= b) for a, x, b in zip(lo, s, hi)):
                return False
        return True

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """Symbolic axes for ``torch.onnx.export``: every axis whose min and max differ."""
        out: dict[str, dict[int, str]] = {}
        for name, (lo, _, hi) in self.shapes.items():
            axes = {i: f"{name}_d{i}" for i, (a, b) in enumerate(zip(lo, hi)) if a != b}
            if axes:
                out[name] = axes
        return out

    def bucket_id(self) -> str:
        """Short stable id used in cache keys: ``x=2x8x72x72,t=2`` or ``dyn[x=1x8x72x72..2x8x72x72,...]``."""
        def s(shape):
            return "x".join(map(str, shape)) or "scalar"
        if self.is_static:
            return ",".join(f"{k}={s(v[0])}" for k, v in sorted(self.shapes.items()))
        return "dyn[" + ",".join(f"{k}={s(v[0])}..{s(v[2])}" for k, v in sorted(self.shapes.items())) + "]"

    def opt_inputs(self, like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Random inputs at the ``opt`` shapes, dtype/device taken from ``like``."""
        out = {}
        for k, (_, opt, _) in self.shapes.items():
            ref = like[k]
            out[k] = (torch.randn(opt, dtype=ref.dtype, device=ref.device) if ref.is_floating_point()
                      else torch.zeros(opt, dtype=ref.dtype, device=ref.device))
        return out


def forward_arg_names(module: torch.nn.Module) -> list[str]:
    """Names of ``module.forward``'s positional-or-keyword parameters, in order."""
    sig = inspect.signature(module.forward)
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def bind_inputs(names: Sequence[str], args: tuple, kwargs: Mapping) -> dict:
    """Map a call's ``(*args, **kwargs)`` onto named inputs, as the torch module would bind them."""
    if len(args) > len(names):
        raise InvalidInputError(f"expected at most {len(names)} positional inputs {list(names)}, got {len(args)}")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k in bound:
            raise InvalidInputError(f"input '{k}' given twice", field=k)
        bound[k] = v
    return bound


def cast_inputs(inputs: Mapping[str, object], dtype: torch.dtype | None) -> dict:
    """Cast floating-point activations to ``dtype``.

    Integer inputs and per-sample scalars (tensors of rank <= 1: timesteps, sigmas, guidance scales) keep their
    dtype: a timestep of 981 in fp16 is off by 0.5 and in bf16 by 4, which moves its sinusoidal embedding
    completely. Networks embed them in fp32 and cast the embedding themselves.
    """
    if dtype is None:
        return dict(inputs)
    return {k: (v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim() > 1 else v)
            for k, v in inputs.items()}


def _output_names(module: torch.nn.Module, args: tuple) -> list[str]:
    with torch.no_grad():
        out = module(*args)
    if isinstance(out, torch.Tensor):
        return ["out"]
    if isinstance(out, (tuple, list)) and all(isinstance(o, torch.Tensor) for o in out):
        return [f"out{i}" for i in range(len(out))]
    raise InvalidInputError(f"forward must return a tensor or a tuple of tensors for ONNX export, got {type(out)}")


def export_onnx(module: torch.nn.Module, inputs: Mapping[str, torch.Tensor], out_dir: str | os.PathLike, *,
                profile: ShapeProfile | None = None, precision: str = "fp32", opset: int = DEFAULT_OPSET,
                output_names: Sequence[str] | None = None) -> Path:
    """Export ``module`` to ``out_dir/model.onnx`` (plus ``model.onnx.data`` for large networks).

    inputs:    example tensors by ``forward`` parameter name (the ``opt`` shapes of a dynamic profile)
    profile:   None = static at the example shapes; a dynamic profile marks its varying axes symbolic
    precision: fp32 | fp16 — dtype of weights, activations and float inputs in the graph (TensorRT builds
               fp16/bf16 engines from the fp32 graph with builder flags; the fp16 graph is for ONNX Runtime)
    Returns the path of ``model.onnx``. The directory is written atomically.
    """
    if precision not in ("fp32", "fp16"):
        raise InvalidInputError(f"ONNX export precision must be fp32 or fp16, got {precision!r}",
                                field="precision")
    names = forward_arg_names(module)
    missing = [n for n in inputs if n not in names]
    if missing:
        raise InvalidInputError(f"inputs {missing} are not parameters of {type(module).__name__}.forward{names}",
                                field="inputs")
    # forward parameters up to the last one given; a gap in between would need a default we cannot export
    used = names[: max(names.index(n) for n in inputs) + 1]
    gaps = [n for n in used if n not in inputs]
    if gaps:
        raise InvalidInputError(f"missing inputs {gaps} (ONNX inputs follow forward's parameter order)",
                                field="inputs")
    profile = profile or ShapeProfile.from_inputs(inputs)
    dtype = _DTYPES[precision]
    was_training = module.training
    m = module.eval()
    orig_dtype = next(iter(m.parameters()), torch.empty(0)).dtype
    if dtype != orig_dtype:
        m = _copy_to_dtype(m, dtype)
    args = tuple(cast_inputs(inputs, dtype)[n] for n in used)
    out_names = list(output_names) if output_names else _output_names(m, args)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TracerWarnings on shape arithmetic are expected
            torch.onnx.export(m, args, str(tmp / ONNX_FILE), input_names=used, output_names=out_names,
                              dynamic_axes=profile.dynamic_axes() or None, opset_version=opset,
                              do_constant_folding=True, dynamo=False)
        _consolidate_external_data(tmp / ONNX_FILE)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        module.train(was_training)
    return out_dir / ONNX_FILE


def _copy_to_dtype(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    import copy
    return copy.deepcopy(module).to(dtype)


def _consolidate_external_data(path: Path) -> None:
    """The exporter writes one file per tensor for >2 GiB models; gather them into ``model.onnx.data``."""
    side = [p for p in path.parent.iterdir() if p != path]
    if not side:
        return
    import onnx
    model = onnx.load(str(path), load_external_data=True)
    for p in side:
        p.unlink()
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)


def onnx_io(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(input names, output names) of an ONNX file, without loading its weights."""
    import onnx
    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits], [o.name for o in m.graph.output]


@dataclass
class ParityReport:
    """Largest absolute error and relative L2 error ``|out - ref| / |ref|`` per output."""

    max_abs: list[float]
    rel_l2: list[float]

    def ok(self, rel_tol: float) -> bool:
        return all(r == r and r <= rel_tol for r in self.rel_l2)  # r == r rejects NaN


def parity(module: torch.nn.Module, runner, inputs: Mapping[str, torch.Tensor], *,
           ref_dtype: torch.dtype = torch.float64, ref_device: str | torch.device = "cpu") -> ParityReport:
    """Compare ``runner(**inputs)`` (e.g. an :class:`~trt_engines.ort.OrtModule`) with the torch module.

    The reference runs in ``ref_dtype`` on ``ref_device`` (default float64 on the CPU, so fp32 runs land far
    under 1e-4 and fp16 runs near 1e-3); the module is copied unless it already has that dtype and device.
    For multi-GiB networks pass ``ref_dtype=torch.float32`` and the GPU.
    """
    import copy
    ref_device = torch.device(ref_device)
    p = next(iter(module.parameters()), None)
    if p is not None and p.dtype == ref_dtype and p.device == ref_device:
        ref_m = module.eval()
    else:
        ref_m = copy.deepcopy(module).to(ref_device, ref_dtype).eval()
    with torch.no_grad():
        ref = ref_m(**{k: (v.detach().to(ref_device, ref_dtype) if v.is_floating_point() else v.to(ref_device))
                       for k, v in inputs.items()})
        got = runner(**inputs)
    refs = [ref] if isinstance(ref, torch.Tensor) else list(ref)
    gots = [got] if isinstance(got, torch.Tensor) else list(got)
    if len(refs) != len(gots):
        raise AssertionError(f"runner returned {len(gots)} outputs, torch module {len(refs)}")
    max_abs, rel = [], []
    for r, g in zip(refs, gots):
        g = g.detach().cpu().double()
        if g.shape != r.shape:
            raise AssertionError(f"output shape {tuple(g.shape)} != reference {tuple(r.shape)}")
        d = g - r
        max_abs.append(float(d.abs().max()))
        rel.append(float(d.norm() / r.norm().clamp_min(1e-30)))
    return ParityReport(max_abs, rel)

