"""CNN embeddings of pieces of a track, pooled to sections, and tags that describe clusters.

One interface over the engine's CNNs (:class:`~engine.config.EmbedConfig`
``model``):

============== =================================== ============ =========== ======
model          network (weights)                   piece        embedding   tags
============== =================================== ============ =========== ======
``musicnn``    musicnn, Million Song Dataset       3-s patch    200-d       50
``musicnn-mtt`` musicnn, MagnaTagATune              3-s patch    200-d       50
``msd-vgg``    musicnn's VGG baseline, MSD         3-s patch    256-d       50
``vggish``     VGGish (AudioSet; weights not       0.96-s       128-d       --
               bundled, see :mod:`engine.neural.vggish`)  example
============== =================================== ============ =========== ======

**Pieces.** The musicnn models see 3-second patches (187 frames of 16 ms,
2.992 s apart, no overlap; trailing audio that cannot fill a patch is
dropped), so a 15-s section holds 5 of them. VGGish sees 0.96-s examples.
:func:`pool_to_sections` gives each piece to the section containing its
centre and pools by mean and by max.

**Which layer.** ``layer="penultimate"`` (the default) is the layer before
each network's tag classifier: musicnn's 200-unit dense layer after its BN;
for ``msd-vgg``, which has no hidden dense layer, the flattened last pooling
map (256 numbers, the classifier's input); for VGGish its 128-d output (PCA
whitened and quantised to 0..255 when ``vggish_postprocess``).
``"mean_pool"``/``"max_pool"`` (musicnn only) give musicnn's 753-d temporal
pools of the front- and mid-end features.

Inference runs in batches of ``batch_size`` pieces (see :func:`batch_size_for`) under
``torch.inference_mode()``, on CUDA when available (``device="auto"``), with
the CPU thread count set to the CPUs this process may use.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..config import EmbedConfig
from ..errors import ModelError, ParameterError
from ..records import PieceEmbeddings, SectionEmbeddings
from . import musicnn, vggish
from .runtime import INFERENCE_ENV, onnx_runner

__all__ = [
    "MUSICNN_MODELS",
    "EmbeddingModel",
    "load_model",
    "resolve_device",
    "batch_size_for",
    "model_inputs",
    "embed",
    "embed_prepared",
    "embed_inputs",
    "pool",
    "pool_to_sections",
    "piece_sections",
]

#: EmbedConfig.model -> the bundled musicnn weights it runs.
MUSICNN_MODELS = {"musicnn": "MSD_musicnn", "musicnn-mtt": "MTT_musicnn", "msd-vgg": "MSD_vgg"}


@dataclass(frozen=True, eq=False)
class EmbeddingModel:
    """A loaded network behind one EmbedConfig, with what the callers need to know about it."""

    model: str  # EmbedConfig.model
    module: torch.nn.Module  # eval mode, parameters frozen
    device: torch.device
    tag_names: tuple[str, ...]
    input_shape: tuple[int, int]  # (frames, mel bands) of one piece
    weights_file: str
    weights_sha256: str
    pca: vggish.PCAParams | None  # VGGish postprocessor, when asked for

    def forward(self, x: torch.Tensor, *, layer: str = "penultimate", maps: bool = False) -> dict:
        """Run a batch of pieces (differentiable; callers choose the grad mode).

        Parameters
        ----------
        x : torch.Tensor [shape=(B, frames, bands)]
            Inputs from :func:`model_inputs`, on :attr:`device`.
        layer : str
            Which layer is the embedding (see the module docstring).
        maps : bool
            Also return ``maps`` (the last convolutional maps with a mel
            axis), ``cam_leaves`` (where the graph starts: the maps, or for
            musicnn their maxima over frequency) and ``cam_widths`` (see
            :mod:`engine.neural.gradcam`).

        Returns
        -------
        dict
            ``embedding`` [B, dim] (VGGish: raw, before the postprocessor),
            ``taggram`` [B, n_tags] or None, and with ``maps`` the maps.
        """
        if self.model == "vggish":
            kept: list[torch.Tensor] = []
            hook = None
            if maps:  # the hook swaps the map for a leaf, as the musicnn modules do (gradients stop there)

                def keep(module, args, output):
                    leaf = output.detach().requires_grad_(torch.is_grad_enabled())
                    kept.append(leaf)
                    return leaf

                hook = vggish.cam_layer(self.module).register_forward_hook(keep)
            try:
                emb = self.module(x.unsqueeze(1))
            finally:
                if hook is not None:
                    hook.remove()
            out = {"embedding": emb, "taggram": None}
            if maps:
                out["maps"], out["cam_leaves"], out["cam_widths"] = kept, kept, (0,)
            return out
        res = self.module(x, maps=maps)
        key = "flatten" if self.model == "msd-vgg" else layer
        out = {"embedding": res[key], "taggram": res["taggram"]}
        if maps:
            out["maps"], out["cam_leaves"] = res["maps"], res["cam_leaves"]
            out["cam_widths"] = self.module.cam_widths()
        return out


def batch_size_for(config: EmbedConfig, device: torch.device) -> int:
    """Pieces per forward pass: ``config.batch_size``, or when it is 0 the fastest measured.

    On 2 CPU cores (``bench/embed.py``) the musicnn models under ONNX Runtime
    are fastest with batches of 8 (under eager torch, of 2: the front-end
    maps outgrow the caches) and VGGish with 16 (its 200 MB of dense weights
    are read once per batch). On CUDA larger batches help.
    """
    if config.batch_size:
        return config.batch_size
    if device.type == "cuda":
        return 64
    if config.model == "vggish":
        return 16
    return 2 if os.environ.get(INFERENCE_ENV, "").lower() == "torch" else 8


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU.

    Raises
    ------
    ParameterError
        If ``"cuda"`` is asked for and no CUDA device is available.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device 'cuda' was asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ParameterError(f"device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


def load_model(config: EmbedConfig) -> EmbeddingModel:
    """Load the network ``config.model`` names (cached by the loaders per weights file and device).

    Parameters
    ----------
    config : EmbedConfig

    Returns
    -------
    EmbeddingModel

    Raises
    ------
    ParameterError
        For ``model="none"`` or an unavailable device.
    ModelError
        If the weights (or VGGish PCA parameters, when postprocessing) cannot be found or loaded.
    """
    device = resolve_device(config.device)
    if config.model == "none":
        raise ParameterError("embedding model 'none' computes no embeddings")
    if config.model == "vggish":
        loaded = vggish.load(path=config.weights_path, allow_download=config.allow_download, device=str(device))
        pca = None
        if config.vggish_postprocess:
            pca = vggish.load_pca(
                path=config.vggish_pca_path, allow_download=config.allow_download, weights_path=loaded.weights.path
            )
        return EmbeddingModel(
            model=config.model,
            module=loaded.module,
            device=device,
            tag_names=(),
            input_shape=(vggish.NUM_FRAMES, vggish.NUM_BANDS),
            weights_file=loaded.weights.path,
            weights_sha256=loaded.weights.sha256,
            pca=pca,
        )
    net = musicnn.load(MUSICNN_MODELS[config.model], device=str(device))
    return EmbeddingModel(
        model=config.model,
        module=net.module,
        device=device,
        tag_names=net.tags,
        input_shape=(musicnn.PATCH_FRAMES, musicnn.N_MELS),
        weights_file=net.weights_file,
        weights_sha256=net.weights_sha256,
        pca=None,
    )


def _to_16k(y: np.ndarray, sample_rate: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"audio must be a non-empty mono 1-D array, got shape {y.shape}")
    if not 1_000 <= sample_rate <= 384_000:
        raise ParameterError(f"sample_rate must be in 1000..384000 Hz, got {sample_rate}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.isfinite(y).all():
        raise ParameterError("audio holds NaN or infinite samples")
    if sample_rate != musicnn.SAMPLE_RATE:
        import soxr

        # soxr "HQ" is what librosa.load(sr=16000) uses by default (res_type="soxr_hq").
        y = soxr.resample(y, sample_rate, musicnn.SAMPLE_RATE, quality="HQ").astype(np.float32)
    return y


def model_inputs(y: np.ndarray, *, sample_rate: int, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network inputs of a track's pieces, and the times they cover.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio; resampled to 16 kHz (soxr HQ) when ``sample_rate`` differs.
    sample_rate : int
        Rate of ``y`` in Hz.
    model : str
        An :class:`EmbedConfig` model name other than ``"none"``.

    Returns
    -------
    inputs : np.ndarray [shape=(n_pieces, frames, bands)], float32
        musicnn models: log-mel patches ``(n, 187, 96)``; VGGish: ``(n, 96, 64)``.
    start_s, end_s : np.ndarray [shape=(n_pieces,)], float64
        Seconds each piece covers (consecutive pieces tile the track; the
        last end is clipped to the track's duration).

    Raises
    ------
    ParameterError
        For bad audio or an unknown model.
    """
    y16 = _to_16k(y, sample_rate)
    duration = y16.size / musicnn.SAMPLE_RATE
    if model == "vggish":
        inputs = vggish.examples(y16)
        start = np.arange(inputs.shape[0], dtype=np.float64) * vggish.EXAMPLE_SECONDS
        end = start + vggish.EXAMPLE_SECONDS
    elif model in MUSICNN_MODELS:
        if y16.size < musicnn.MIN_SAMPLES:  # shorter than one patch: zero-pad to one
            y16 = np.pad(y16, (0, musicnn.MIN_SAMPLES - y16.size))
        inputs, starts = musicnn.patches(musicnn.log_mel(y16))
        start = starts * (musicnn.HOP_LENGTH / musicnn.SAMPLE_RATE)
        end = (starts + musicnn.PATCH_FRAMES) * (musicnn.HOP_LENGTH / musicnn.SAMPLE_RATE)
    else:
        raise ParameterError(f"no inputs for embedding model {model!r}")
    return inputs, start, np.minimum(end, duration)


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def _threads(device: torch.device) -> Iterator[None]:
    """Use as many intra-op threads as CPUs this process may run on (torch may count more under cgroups).

    Left alone when the user set ``OMP_NUM_THREADS``, or on CUDA; restored afterwards.
    """
    before = torch.get_num_threads()
    wanted = _cpu_count()
    change = device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ and wanted != before
    if change:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(before)


def embed_inputs(
    inputs: np.ndarray, *, net: EmbeddingModel, layer: str = "penultimate", batch_size: int = 4
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run a loaded network over prepared inputs, in batches, without gradients.

    Parameters
    ----------
    inputs : np.ndarray [shape=(n, frames, bands)]
        From :func:`model_inputs`.
    net : EmbeddingModel
    layer : str
        Embedding layer.
    batch_size : int
        Pieces per forward pass.

    Returns
    -------
    embeddings : np.ndarray [shape=(n, dim)], float32
        Raw network output (the VGGish postprocessor is applied by :func:`embed`).
    tags : np.ndarray [shape=(n, n_tags)], float32, or None

    Raises
    ------
    ParameterError
        If ``inputs`` does not have the network's input shape.
    ModelError
        If the forward pass fails (e.g. out of memory).
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim != 3 or inputs.shape[1:] != net.input_shape:
        raise ParameterError(f"{net.model} inputs must have shape (n, {net.input_shape[0]}, {net.input_shape[1]}), got {inputs.shape}")
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    embs: list[np.ndarray] = []
    tags: list[np.ndarray] = []
    try:
        with _threads(net.device), torch.inference_mode():
            fast = onnx_runner(net, layer, torch.get_num_threads())  # musicnn on CPU: ONNX Runtime (engine.neural.runtime)
            for i in range(0, inputs.shape[0], batch_size):
                if fast is not None:
                    emb, tag = fast(inputs[i : i + batch_size])
                    embs.append(emb.astype(np.float32, copy=False))
                    tags.append(tag.astype(np.float32, copy=False))
                    continue
                x = torch.from_numpy(inputs[i : i + batch_size]).to(net.device)
                out = net.forward(x, layer=layer)
                embs.append(out["embedding"].float().cpu().numpy())
                if out["taggram"] is not None:
                    tags.append(out["taggram"].float().cpu().numpy())
    except RuntimeError as exc:  # torch (and ONNX Runtime) report out-of-memory and device failures this way
        raise ModelError(f"{net.model} inference failed: {exc}") from exc
    dim = embs[0].shape[1] if embs else 0
    emb = np.concatenate(embs) if embs else np.zeros((0, dim), np.float32)
    return emb.astype(np.float32, copy=False), (np.concatenate(tags) if tags else None)


def embed(y: np.ndarray, *, sample_rate: int, config: EmbedConfig, track_id: str) -> PieceEmbeddings:
    """Embed the pieces of one track.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio (any rate; resampled to 16 kHz with soxr HQ if needed).
    sample_rate : int
        Rate of ``y`` in Hz.
    config : EmbedConfig
        Which model and layer, batch size, device, VGGish weights policy.
    track_id : str
        sha256 of the track's file, carried into the record.

    Returns
    -------
    PieceEmbeddings

    Raises
    ------
    ParameterError
        For bad audio, ``model="none"``, or an unavailable device.
    ModelError
        If weights cannot be found or loaded, or inference fails.
    """
    if config.model == "none":
        raise ParameterError("embedding model 'none' computes no embeddings")
    load_model(config)  # missing weights fail before the audio is prepared
    return embed_prepared(model_inputs(y, sample_rate=sample_rate, model=config.model), config=config, track_id=track_id)


def embed_prepared(prepared: tuple[np.ndarray, np.ndarray, np.ndarray], *, config: EmbedConfig, track_id: str) -> PieceEmbeddings:
    """:func:`embed` of inputs :func:`model_inputs` prepared already (``(inputs, start_s, end_s)``),
    e.g. in another thread while the network ran on the previous track.

    Raises
    ------
    ParameterError, ModelError
        As :func:`embed`.
    """
    if config.model == "none":
        raise ParameterError("embedding model 'none' computes no embeddings")
    net = load_model(config)
    inputs, start_s, end_s = prepared
    emb, tags = embed_inputs(inputs, net=net, layer=config.layer, batch_size=batch_size_for(config, net.device))
    if net.pca is not None:
        emb = vggish.postprocess(emb, net.pca)
    return PieceEmbeddings(
        track_id=track_id,
        model=config.model,
        layer=config.layer,
        start_s=start_s,
        end_s=end_s,
        embeddings=emb,
        tags=tags,
        tag_names=net.tag_names,
        weights_file=net.weights_file,
        weights_sha256=net.weights_sha256,
        postprocess_file=net.pca.file.path if net.pca is not None else "",
        postprocess_sha256=net.pca.file.sha256 if net.pca is not None else "",
        config_digest=config.digest(),
    )


# ---------------------------------------------------------------------------
# Pooling to sections
# ---------------------------------------------------------------------------


def piece_sections(piece_start: np.ndarray, piece_end: np.ndarray, start_s: np.ndarray, end_s: np.ndarray) -> np.ndarray:
    """The section each piece belongs to: the one with ``start <= centre < end``.

    Parameters
    ----------
    piece_start, piece_end : np.ndarray [shape=(n_pieces,)]
        Seconds each piece covers.
    start_s, end_s : np.ndarray [shape=(n_sections,)]
        Section bounds in seconds (non-overlapping, as :func:`engine.audio.segment.segment` cuts them).

    Returns
    -------
    np.ndarray [shape=(n_pieces,)]
        int64 section index, ``-1`` for a piece whose centre lies in no section.
    """
    centre = (np.asarray(piece_start, np.float64) + np.asarray(piece_end, np.float64)) / 2.0
    section = np.full(centre.shape[0], -1, dtype=np.int64)
    for j, (a, b) in enumerate(zip(start_s, end_s)):
        section[(centre >= a) & (centre < b)] = j
    return section


def _section_members(
    piece_start: np.ndarray, piece_end: np.ndarray, start_s: np.ndarray, end_s: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    centre = (piece_start + piece_end) / 2.0
    section = piece_sections(piece_start, piece_end, start_s, end_s)
    members, counts = [], np.zeros(start_s.shape[0], dtype=np.int64)
    for j, (a, b) in enumerate(zip(start_s, end_s)):
        idx = np.flatnonzero(section == j)
        counts[j] = idx.size
        if idx.size == 0 and centre.size:
            overlap = np.minimum(piece_end, b) - np.maximum(piece_start, a)
            best = int(np.argmax(overlap)) if overlap.max() > 0 else int(np.argmin(np.abs(centre - (a + b) / 2.0)))
            idx = np.array([best])
        members.append(idx)
    return members, counts


def pool(
    values: np.ndarray,
    piece_start_s: np.ndarray,
    piece_end_s: np.ndarray,
    *,
    start_s: np.ndarray,
    end_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean- and max-pool per-piece rows to sections, by piece centre.

    A piece belongs to the section with ``start <= centre < end``. A section
    that contains no piece centre (sections shorter than a piece, or one past
    the last piece) borrows the one piece overlapping it most, or failing
    that the piece whose centre is nearest, so every row is finite; its
    count stays 0.

    Parameters
    ----------
    values : np.ndarray [shape=(n_pieces, dim)]
    piece_start_s, piece_end_s : np.ndarray [shape=(n_pieces,)]
    start_s, end_s : np.ndarray [shape=(n_sections,)]
        Section bounds in seconds.

    Returns
    -------
    mean, max : np.ndarray [shape=(n_sections, dim)], float32
    counts : np.ndarray [shape=(n_sections,)], int64
        Pieces whose centre lies in each section.

    Raises
    ------
    ParameterError
        If the shapes disagree, or there are sections but no pieces.
    """
    values = np.asarray(values, dtype=np.float32)
    ps, pe = np.asarray(piece_start_s, dtype=np.float64), np.asarray(piece_end_s, dtype=np.float64)
    ss, se = np.asarray(start_s, dtype=np.float64), np.asarray(end_s, dtype=np.float64)
    if values.ndim != 2 or ps.shape != (values.shape[0],) or pe.shape != ps.shape:
        raise ParameterError(f"values {values.shape} and piece times {ps.shape}, {pe.shape} disagree")
    if ss.ndim != 1 or se.shape != ss.shape:
        raise ParameterError(f"section starts {ss.shape} and ends {se.shape} disagree")
    if ss.size and not values.shape[0]:
        raise ParameterError("cannot pool zero pieces into sections")
    members, counts = _section_members(ps, pe, ss, se)
    dim = values.shape[1]
    mean = np.zeros((ss.size, dim), np.float32)
    high = np.zeros((ss.size, dim), np.float32)
    for j, idx in enumerate(members):
        mean[j] = values[idx].mean(axis=0)
        high[j] = values[idx].max(axis=0)
    return mean, high, counts


def pool_to_sections(emb: PieceEmbeddings, start_s: np.ndarray, end_s: np.ndarray) -> SectionEmbeddings:
    """Pool a track's piece embeddings (and tags) to its sections.

    Parameters
    ----------
    emb : PieceEmbeddings
    start_s, end_s : np.ndarray [shape=(n_sections,)]
        Section bounds in seconds (e.g. ``Segmentation.start_s``/``end_s``).

    Returns
    -------
    SectionEmbeddings
        Embeddings pooled by mean and by max; tags by mean. See :func:`pool`
        for which pieces each section gets.

    Raises
    ------
    ParameterError
        As :func:`pool`.
    """
    mean, high, counts = pool(emb.embeddings, emb.start_s, emb.end_s, start_s=start_s, end_s=end_s)
    tags = None
    if emb.tags is not None:
        tags = pool(emb.tags, emb.start_s, emb.end_s, start_s=start_s, end_s=end_s)[0]
    return SectionEmbeddings(
        track_id=emb.track_id,
        model=emb.model,
        start_s=np.asarray(start_s, dtype=np.float64),
        end_s=np.asarray(end_s, dtype=np.float64),
        mean=mean,
        max=high,
        tags=tags,
        tag_names=emb.tag_names,
        n_pieces=counts,
        weights_sha256=emb.weights_sha256,
        config_digest=emb.config_digest,
    )
