"""ONNX Runtime session with the torch module's call signature.

``OrtModule(path)(x, t, cond)`` takes and returns torch tensors, binds positional and keyword arguments like
the torch ``forward`` it was exported from (ONNX input names are the forward parameter names), casts float
inputs to the graph's dtype and the outputs back to the caller's dtype and device.

On a CUDA tensor with ``CUDAExecutionProvider`` available, inputs and outputs stay on the GPU through I/O
binding; otherwise they go through host memory.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from sdk.errors import InvalidInputError, MissingDependencyError

from .onnx_export import bind_inputs

_ORT_TO_TORCH = {
    "tensor(float)": torch.float32, "tensor(float16)": torch.float16, "tensor(double)": torch.float64,
    "tensor(int64)": torch.int64, "tensor(int32)": torch.int32, "tensor(bool)": torch.bool,
}


def _ort():
    try:
        import onnxruntime
    except ImportError as e:  # pragma: no cover - onnxruntime is a core dependency
        raise MissingDependencyError("onnxruntime", "the ONNX Runtime backend") from e
    return onnxruntime


class OrtModule:
    """Callable wrapper around an ``onnxruntime.InferenceSession``.

    path:      model.onnx (external data beside it is found automatically)
    providers: ONNX Runtime execution providers; default CUDA when available, else CPU
    threads:   intra-op threads for the CPU provider (0 = ONNX Runtime's default)
    """

    def __init__(self, path: str | os.PathLike, providers: Sequence[str] | None = None, threads: int = 0):
        ort = _ort()
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"ONNX file not found: {path}", field="path")
        avail = ort.get_available_providers()
        if providers is None:
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in avail]
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            so.intra_op_num_threads = threads
        self.path = path
        self.session = ort.InferenceSession(str(path), sess_options=so, providers=list(providers))
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.input_dtypes = {i.name: _ORT_TO_TORCH.get(i.type) for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.on_cuda = "CUDAExecutionProvider" in self.session.get_providers()

    def __repr__(self) -> str:
        return f"OrtModule({self.path}, inputs={self.input_names}, providers={self.session.get_providers()})"

    def __call__(self, *args, **kwargs):
        bound = bind_inputs(self.input_names, args, kwargs)
        missing = [n for n in self.input_names if n not in bound]
        extra = [n for n in bound if n not in self.input_names]
        if missing or extra:
            raise InvalidInputError(f"ONNX graph takes {self.input_names}; missing {missing}, unexpected {extra}",
                                    field="inputs")
        first = next(v for v in bound.values() if isinstance(v, torch.Tensor))
        out_device = first.device
        out_dtype = next((v.dtype for v in bound.values()  # dtype of the first float activation
                          if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim() > 1), torch.float32)
        feeds = {}
        for n in self.input_names:
            v = bound[n]
            v = torch.as_tensor(v)
            want = self.input_dtypes.get(n)
            if want is not None and v.dtype != want:
                v = v.to(want)
            feeds[n] = v.contiguous()
        if self.on_cuda and out_device.type == "cuda":
            outs = self._run_cuda(feeds, out_device)
        else:
            res = self.session.run(self.output_names, {k: v.detach().cpu().numpy() for k, v in feeds.items()})
            outs = [torch.from_numpy(np.ascontiguousarray(r)).to(out_device) for r in res]
        outs = [o.to(out_dtype) if o.is_floating_point() else o for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _run_cuda(self, feeds: dict[str, torch.Tensor], device: torch.device) -> list[torch.Tensor]:
        binding = self.session.io_binding()
        np_types = {torch.float32: np.float32, torch.float16: np.float16, torch.int64: np.int64,
                    torch.int32: np.int32, torch.float64: np.float64, torch.bool: np.bool_}
        for n, v in feeds.items():
            v = v.to(device)
            feeds[n] = v  # keep alive until run returns
            binding.bind_input(n, "cuda", device.index or 0, np_types[v.dtype], tuple(v.shape), v.data_ptr())
        for n in self.output_names:
            binding.bind_output(n, "cuda", device.index or 0)
        torch.cuda.current_stream(device).synchronize()
        self.session.run_with_iobinding(binding)
        return [torch.from_dlpack(o.to_dlpack()) if hasattr(o, "to_dlpack") else torch.from_numpy(o.numpy())
                for o in binding.get_outputs()]
