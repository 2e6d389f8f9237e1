"""The musicnn networks on CPU under ONNX Runtime: the same torch module, exported once per process.

``bench/embed.py`` measures both side by side: on CPU, ONNX Runtime (its
MLAS kernels) ran the musicnn networks 1.6-2x faster than eager torch, and
its outputs stay within 1e-5 of torch's (``tests/test_runtime.py``), so
within the 1e-4 the port keeps to the TensorFlow references. Nothing is
downloaded: the graph is exported in memory from the loaded weights
(``torch.onnx.export``), with the embedding layer asked for and the
taggram as its two outputs.

torch stays where it is needed: Grad-CAM (gradients), CUDA, VGGish, and
whenever ``$CRATEMAP_INFERENCE`` is ``torch``. If the export or the session
fails (an ONNX Runtime missing or too old), the run says so once in the log
and goes on with torch, on the same weights.
"""

from __future__ import annotations

import copy
import io
import logging
import os
import threading
import warnings
from typing import Callable

import numpy as np
import torch

__all__ = ["onnx_runner", "INFERENCE_ENV"]

log = logging.getLogger("cratemap.neural")

#: ``torch`` forces eager torch on CPU too (the bench compares both); anything else lets ONNX Runtime run.
INFERENCE_ENV = "CRATEMAP_INFERENCE"

_MODELS = ("musicnn", "musicnn-mtt", "msd-vgg")
_SESSIONS: dict[tuple, Callable | None] = {}
_LOCK = threading.Lock()


class _Outputs(torch.nn.Module):
    """The network with exactly two outputs: the embedding layer and the taggram."""

    def __init__(self, module: torch.nn.Module, key: str) -> None:
        super().__init__()
        self.module, self.key = module, key

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.module(x)
        return out[self.key], out["taggram"]


def onnx_runner(net, layer: str, threads: int) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None:
    """A function from a batch of inputs ``(B, frames, bands)`` float32 to ``(embedding, taggram)``
    under ONNX Runtime on ``threads`` threads, or None where torch runs instead (not a musicnn
    model, not on CPU, ``$CRATEMAP_INFERENCE=torch``, or the export failed).

    Parameters
    ----------
    net : EmbeddingModel
        From :func:`engine.neural.embed.load_model`.
    layer : str
        The embedding layer (``EmbedConfig.layer``).
    threads : int
        Intra-op threads of the session (the CPUs this process may use, or 1 in a pool worker).
    """
    if net.model not in _MODELS or net.device.type != "cpu" or os.environ.get(INFERENCE_ENV, "").lower() == "torch":
        return None
    key = "flatten" if net.model == "msd-vgg" else layer
    cache_key = (net.weights_sha256, net.model, key, max(1, int(threads)))
    with _LOCK:
        if cache_key not in _SESSIONS:
            _SESSIONS[cache_key] = _build(net, key, cache_key[-1])
        return _SESSIONS[cache_key]


def _build(net, key: str, threads: int) -> Callable | None:
    try:
        import onnxruntime as ort

        graph = _export(net, key)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting on a shared machine
        options.log_severity_level = 3
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 -- any failure here means: run torch, on the same weights
        log.warning("ONNX Runtime cannot run %s (%s: %s); torch runs it instead", net.model, type(exc).__name__, exc)
        return None

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        embedding, taggram = session.run(None, {"x": np.ascontiguousarray(batch, dtype=np.float32)})
        return embedding, taggram

    return run


def _export(net, key: str) -> bytes:
    """The ONNX graph of ``net`` with outputs (``key`` layer, taggram), exported from a copy in eval mode.

    A copy, and eval mode set on the wrapper too: the exporter runs the module
    in its wrapper's mode, and in training mode every BatchNorm would update
    its running statistics while being traced.
    """
    wrapper = _Outputs(copy.deepcopy(net.module).cpu(), key).eval()
    example = torch.zeros((2, *net.input_shape), dtype=torch.float32)
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (example,),
            buf,
            input_names=["x"],
            output_names=["embedding", "taggram"],
            dynamic_axes={"x": {0: "batch"}, "embedding": {0: "batch"}, "taggram": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return buf.getvalue()
