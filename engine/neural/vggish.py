"""VGGish through torchvggish: the network, an honest weights policy, its preprocessing and postprocessor.

The architecture is torchvggish's own (``torchvggish.VGG(make_layers())``),
used unchanged. Its pretrained weights (AudioSet, Hershey et al. 2017,
Apache-2.0, converted by torchvggish) are **not** bundled with CrateMap: they
are 275 MB. :func:`find_weights` looks for them in this order and stops at
the first hit:

1. an explicit path (``EmbedConfig.weights_path``);
2. the file named by the ``CRATEMAP_VGGISH_WEIGHTS`` environment variable;
3. torch hub's cache, ``<torch hub dir>/checkpoints/vggish-10086976.pth``
   (``$TORCH_HOME/hub`` or ``~/.cache/torch/hub``), where torchvggish's own
   loader puts them;
4. a download from torchvggish's release URL, hash-checked against the
   prefix in its name, **only** when ``EmbedConfig.allow_download`` is true.

An explicit path or environment variable that names a missing file is an
error (it is not skipped). When nothing is found, :class:`ModelError` lists
every place tried and how to fix it. No code path ever runs the network with
its random initialisation: a module is only returned after a strict
``load_state_dict`` of a found file, and every result records the file and
its sha256 (and whether that hash matches torchvggish's published prefix).

The postprocessor's PCA parameters (``vggish_pca_params-970ea276.pth``) are
found the same way, with ``EmbedConfig.vggish_pca_path``,
``CRATEMAP_VGGISH_PCA``, the weights file's own folder, then the hub cache.

Preprocessing is torchvggish's ``waveform_to_examples``: 16 kHz, 25 ms
windows every 10 ms, 64 mel bands (125-7500 Hz), ``log(mel + 0.01)``, framed
into **0.96-s examples of 96 x 64** without overlap.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ModelError, ParameterError

__all__ = [
    "SAMPLE_RATE",
    "EXAMPLE_SECONDS",
    "NUM_FRAMES",
    "NUM_BANDS",
    "EMBEDDING_SIZE",
    "ENV_WEIGHTS",
    "ENV_PCA",
    "WEIGHTS_URL",
    "PCA_URL",
    "WeightsFile",
    "LoadedVGGish",
    "PCAParams",
    "build",
    "hub_checkpoint_dir",
    "find_weights",
    "find_pca",
    "load",
    "load_pca",
    "examples",
    "postprocess",
    "cam_layer",
]

SAMPLE_RATE = 16_000  # Hz, VGGish's input rate
EXAMPLE_SECONDS = 0.96  # seconds per example (96 frames of 10 ms), no overlap
NUM_FRAMES = 96  # frames per example
NUM_BANDS = 64  # mel bands per frame
EMBEDDING_SIZE = 128  # output size
MIN_SAMPLES = 400 + (NUM_FRAMES - 1) * 160  # 15,600 samples (0.975 s) make one example
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0  # the postprocessor clips PCA output to this range

ENV_WEIGHTS = "CRATEMAP_VGGISH_WEIGHTS"
ENV_PCA = "CRATEMAP_VGGISH_PCA"
WEIGHTS_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
PCA_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish_pca_params-970ea276.pth"


@dataclass(frozen=True)
class _Kind:
    what: str  # for messages
    filename: str  # torchvggish's file name (its hash prefix after the dash)
    url: str
    env: str
    setting: str  # the EmbedConfig field holding an explicit path

    @property
    def hash_prefix(self) -> str:
        return self.filename.rsplit("-", 1)[1].split(".")[0]


_WEIGHTS = _Kind("VGGish weights", "vggish-10086976.pth", WEIGHTS_URL, ENV_WEIGHTS, "weights_path")
_PCA = _Kind("VGGish PCA parameters", "vggish_pca_params-970ea276.pth", PCA_URL, ENV_PCA, "vggish_pca_path")


@dataclass(frozen=True)
class WeightsFile:
    """A weights file that was found, and how."""

    path: str  # absolute path
    sha256: str  # of the file's bytes
    source: str  # "explicit" | "environment" | "beside-weights" | "hub-cache" | "download"
    official: bool  # sha256 starts with the prefix torchvggish publishes in the file name


@dataclass(frozen=True, eq=False)
class LoadedVGGish:
    """The VGGish network with pretrained weights loaded, ready for inference."""

    module: nn.Module  # torchvggish.VGG, eval mode, parameters frozen
    weights: WeightsFile
    device: str


@dataclass(frozen=True, eq=False)
class PCAParams:
    """The postprocessor's PCA (with whitening) parameters."""

    matrix: torch.Tensor  # float32 [shape=(128, 128)], rows are output dimensions
    means: torch.Tensor  # float32 [shape=(128,)]
    file: WeightsFile


def build() -> nn.Module:
    """torchvggish's VGGish network, **untrained**.

    Only the loaders below and the benchmark (which labels its runs as
    speed-only) call this; nothing in the engine runs an untrained network.
    """
    from torchvggish.torchvggish import VGG, make_layers

    return VGG(make_layers(), postprocess=False)


def cam_layer(module: nn.Module) -> nn.Module:
    """The module whose output is the last convolutional map (after its ReLU), ``[B, 512, 12, 8]``."""
    convs = [i for i, layer in enumerate(module.features) if isinstance(layer, nn.Conv2d)]
    return module.features[convs[-1] + 1]


def hub_checkpoint_dir() -> Path:
    """Where torch hub keeps downloaded checkpoints (reads ``TORCH_HOME`` now, not at import)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # Cached on (path, size, mtime): hashing 275 MB takes about half a second.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file(path: Path, source: str, kind: _Kind) -> WeightsFile:
    st = path.stat()
    sha = _sha256(str(path), st.st_size, st.st_mtime_ns)
    official = sha.startswith(kind.hash_prefix)
    if source == "hub-cache" and not official:
        warnings.warn(
            f"{path} does not match the sha256 prefix {kind.hash_prefix} in its name; "
            "it is used, and recorded as not the official file",
            stacklevel=3,
        )
    return WeightsFile(path=str(path), sha256=sha, source=source, official=official)


def _named(text: str, source: str, kind: _Kind, complaint: str) -> WeightsFile:
    """The file a user named; it must exist (else ``complaint``, with ``{path}`` filled in, says so)."""
    p = Path(text).expanduser()
    if not p.is_file():
        raise ModelError(f"{kind.what}: " + complaint.format(path=p))
    return _file(p.resolve(), source, kind)


def _find(kind: _Kind, *, path: str, allow_download: bool, beside: str = "") -> WeightsFile:
    tried: list[str] = []
    if path:
        return _named(path, "explicit", kind, "the explicit path {path} (" + kind.setting + ") is not a file")
    tried.append(f"explicit path ({kind.setting}): not set")
    env = os.environ.get(kind.env, "")
    if env:
        return _named(env, "environment", kind, "$" + kind.env + " names {path}, which is not a file")
    tried.append(f"${kind.env}: not set")
    if beside:
        p = Path(beside).parent / kind.filename
        if p.is_file():
            return _file(p.resolve(), "beside-weights", kind)
        tried.append(f"beside the weights file: {p} (missing)")
    cached = hub_checkpoint_dir() / kind.filename
    if cached.is_file():
        return _file(cached.resolve(), "hub-cache", kind)
    tried.append(f"torch hub cache: {cached} (missing)")
    if allow_download:
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(kind.url, str(cached), hash_prefix=kind.hash_prefix, progress=False)
        except Exception as exc:  # network errors, or a hash mismatch (RuntimeError)
            raise ModelError(f"{kind.what}: download from {kind.url} failed: {exc}") from exc
        return _file(cached.resolve(), "download", kind)
    tried.append("download: not allowed (allow_download=False)")
    looked = "\n".join(f"  {i}. {t}" for i, t in enumerate(tried, start=1))
    raise ModelError(
        f"{kind.what} not found. Looked in:\n{looked}\n"
        f"To fix: download {kind.url} and set ${kind.env} to its path (or put it at {cached}, "
        f"or give {kind.setting}), or allow the hash-checked download (allow_download=True). "
        "CrateMap never runs VGGish with untrained weights."
    )


def find_weights(*, path: str = "", allow_download: bool = False) -> WeightsFile:
    """Find the VGGish weights file (see the module docstring for the order).

    Parameters
    ----------
    path : str
        An explicit file; ``""`` to search.
    allow_download : bool
        May the file be downloaded into the hub cache (hash-checked) when no
        local copy exists?

    Returns
    -------
    WeightsFile

    Raises
    ------
    ModelError
        If no file is found, an explicit or environment path is missing, or
        the download fails or does not match its hash.
    """
    return _find(_WEIGHTS, path=path, allow_download=allow_download)


def find_pca(*, path: str = "", allow_download: bool = False, weights_path: str = "") -> WeightsFile:
    """Find the postprocessor's PCA file: like :func:`find_weights`, also beside ``weights_path``.

    Raises
    ------
    ModelError
        As :func:`find_weights`.
    """
    return _find(_PCA, path=path, allow_download=allow_download, beside=weights_path)


def _numpy_safe_globals() -> list:
    # torchvggish's PCA file holds numpy arrays; weights_only loading needs their
    # reconstructors allowed (under both the numpy 1 and numpy 2 module names).
    core = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    allowed: list = [np.ndarray, np.dtype, (core._reconstruct, "numpy.core.multiarray._reconstruct")]
    allowed.append((core._reconstruct, "numpy._core.multiarray._reconstruct"))
    allowed += [getattr(np.dtypes, n) for n in ("Float32DType", "Float64DType") if hasattr(np, "dtypes")]
    return allowed


def _torch_load(path: str) -> object:
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors alike: the file is not usable
        raise ModelError(f"cannot read {path}: {exc}") from exc


@functools.lru_cache(maxsize=4)
def _load_module(path: str, sha256: str, device: str) -> nn.Module:
    # Cached on the file's content hash: a different file is a different model.
    state = _torch_load(path)
    if not isinstance(state, dict):
        raise ModelError(f"{path} is not a state dict (got {type(state).__name__})")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    with torch.device("meta"):  # no values at all until the file's are assigned: nothing random can run
        module = build()
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{path} is not a VGGish state dict: missing {missing[:4]}, unexpected {unexpected[:4]} "
            f"({len(missing)} and {len(unexpected)} in all)"
        )
    try:
        tensors = {k: torch.as_tensor(v, dtype=torch.float32).contiguous() for k, v in state.items()}
        module.load_state_dict(tensors, strict=True, assign=True)
    except (RuntimeError, TypeError, ValueError) as exc:  # shape mismatches, non-numeric entries
        raise ModelError(f"{path} does not fit VGGish: {exc}") from exc
    return module.eval().requires_grad_(False).to(device)


def load(*, path: str = "", allow_download: bool = False, device: str = "cpu") -> LoadedVGGish:
    """Find the weights and return VGGish with them loaded.

    Parameters
    ----------
    path, allow_download
        As :func:`find_weights`.
    device : str
        A torch device string.

    Returns
    -------
    LoadedVGGish

    Raises
    ------
    ModelError
        If no weights are found, or the file is not a VGGish state dict.
    """
    found = find_weights(path=path, allow_download=allow_download)
    return LoadedVGGish(module=_load_module(found.path, found.sha256, str(device)), weights=found, device=str(device))


def load_pca(*, path: str = "", allow_download: bool = False, weights_path: str = "") -> PCAParams:
    """Find and read the postprocessor's PCA parameters.

    Returns
    -------
    PCAParams

    Raises
    ------
    ModelError
        If the file is not found or does not hold ``pca_eigen_vectors``
        (128, 128) and ``pca_means`` (128 numbers).
    """
    found = find_pca(path=path, allow_download=allow_download, weights_path=weights_path)
    params = _torch_load(found.path)
    try:
        matrix = torch.as_tensor(np.asarray(params["pca_eigen_vectors"]), dtype=torch.float32)
        means = torch.as_tensor(np.asarray(params["pca_means"]), dtype=torch.float32).reshape(-1)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{found.path} does not hold pca_eigen_vectors and pca_means: {exc}") from exc
    if matrix.shape != (EMBEDDING_SIZE, EMBEDDING_SIZE) or means.shape != (EMBEDDING_SIZE,):
        raise ModelError(f"{found.path}: PCA shapes {tuple(matrix.shape)}, {tuple(means.shape)}; expected (128, 128), (128,)")
    return PCAParams(matrix=matrix, means=means, file=found)


def examples(y: np.ndarray) -> np.ndarray:
    """torchvggish's preprocessing: 16 kHz mono audio to 0.96-s log-mel examples.

    Audio shorter than one example (0.975 s, the span of 96 windows) is
    zero-padded to one; trailing audio that cannot fill an example is dropped.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at 16 kHz.

    Returns
    -------
    np.ndarray [shape=(n_examples, 96, 64)], float32
        Example ``i`` covers ``0.96 * i`` to ``0.96 * (i + 1)`` seconds
        (time along the second axis, mel bands along the third).

    Raises
    ------
    ParameterError
        If ``y`` is not a non-empty 1-D array of finite numbers.
    """
    from torchvggish.vggish_input import waveform_to_examples

    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"audio must be a non-empty 1-D array, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ParameterError("audio holds NaN or infinite samples")
    if y.size < MIN_SAMPLES:
        y = np.pad(y, (0, MIN_SAMPLES - y.size))
    out = waveform_to_examples(y.astype(np.float64), SAMPLE_RATE, return_tensor=False)
    return np.ascontiguousarray(out, dtype=np.float32)


def postprocess(embeddings: torch.Tensor | np.ndarray, pca: PCAParams) -> np.ndarray:
    """torchvggish's postprocessor: PCA with whitening, clip to [-2, 2], 8-bit quantisation.

    Parameters
    ----------
    embeddings : array [shape=(n, 128)]
        Raw VGGish output.
    pca : PCAParams

    Returns
    -------
    np.ndarray [shape=(n, 128)], float32
        Whole numbers 0..255 (the released AudioSet embeddings' format, as in the thesis).
    """
    x = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    if x.ndim != 2 or x.shape[1] != EMBEDDING_SIZE:
        raise ParameterError(f"embeddings must have shape (n, {EMBEDDING_SIZE}), got {tuple(x.shape)}")
    projected = (pca.matrix @ (x.T - pca.means[:, None])).T
    clipped = projected.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
    return torch.round((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN))).numpy()
