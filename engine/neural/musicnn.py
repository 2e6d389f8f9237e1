"""musicnn in PyTorch: preprocessing, the networks, and the bundled weights.

A port of musicnn 0.1.0 (Pons & Serra, LBD-ISMIR 2019; ISC licence) written
from the layer-by-layer spec in ``engine/models/musicnn/NOTES.md`` and checked
against reference tensors of the original TensorFlow code
(``tests/test_musicnn.py``). Three pretrained models ship with the engine,
converted once by ``scripts/convert_musicnn.py`` into
``engine/models/musicnn/<MODEL>.safetensors`` (float32):

* ``MSD_musicnn`` -- musicnn trained on the Million Song Dataset (last.fm tags);
* ``MTT_musicnn`` -- the same network trained on MagnaTagATune;
* ``MSD_vgg`` -- the VGG-like baseline trained on the Million Song Dataset.

The models see **3-second patches**: 187 frames of a 96-band log-mel
spectrogram at 16 kHz (hop 256 samples, 16 ms). Patches start at frame 0 and
follow each other without overlap (a step of 187 frames = 2.992 s); frames at
the end that cannot fill a patch are dropped, as the original does. A
15-second section therefore holds 5 patches.

Differences from musicnn 0.1.0, all deliberate:

* the mel spectrogram stays float32 (0.1.0 casts it to float16, which
  overflows to inf on loud tonal input);
* per-patch features are computed for every patch (0.1.0's extractor returns
  the first patch's ``cnn1..3`` and ``penultimate`` for every patch);
* audio shorter than one patch is zero-padded to one patch (0.1.0 fails).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..audio.stft import frame_count, power_blocks
from ..errors import ModelError, ParameterError

__all__ = [
    "SAMPLE_RATE",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "PATCH_FRAMES",
    "PATCH_SECONDS",
    "BN_EPS",
    "MODELS",
    "WEIGHTS_DIR",
    "ModelSpec",
    "LoadedModel",
    "Musicnn",
    "MusicnnVGG",
    "mel_filterbank",
    "log_mel",
    "patch_starts",
    "patches",
    "build",
    "load",
]

SAMPLE_RATE = 16_000  # Hz, the rate every musicnn model was trained at
N_FFT = 512  # samples per STFT frame (periodic Hann window of the same length)
HOP_LENGTH = 256  # samples between frame centres (16 ms)
N_MELS = 96  # Slaney mel bands, 0..8000 Hz, Slaney area normalisation
LOG_GAIN = 10_000.0  # log-mel is log10(1 + LOG_GAIN * mel)
PATCH_FRAMES = 187  # frames per model input: floor((3 s * 16000 - 256) / 256) + 1
PATCH_SECONDS = PATCH_FRAMES * HOP_LENGTH / SAMPLE_RATE  # 2.992 s between patch starts
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP_LENGTH  # 47,616 samples (2.976 s) make one patch
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon (PyTorch's default is 1e-5)

#: Where the converted weights live (inside the engine, so nothing outside is needed).
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "models" / "musicnn"


@dataclass(frozen=True)
class ModelSpec:
    """What distinguishes the three pretrained models."""

    name: str  # file stem under WEIGHTS_DIR
    architecture: str  # "musicnn" | "vgg"
    dataset: str  # what the tags were learnt from
    embedding_dim: int  # size of the layer before the classifier
    sha256: str  # of the bundled safetensors file (scripts/convert_musicnn.py writes it reproducibly)


MODELS: dict[str, ModelSpec] = {
    "MSD_musicnn": ModelSpec(
        "MSD_musicnn", "musicnn", "Million Song Dataset (last.fm tags)", 200,
        "17cb266f2f78a2ef1be9611ae0115d55a2fe5a014cab10a0106333d1a1e43cd9",
    ),
    "MTT_musicnn": ModelSpec(
        "MTT_musicnn", "musicnn", "MagnaTagATune", 200,
        "3445b6af685dd099c576599aad076a71d09e5694abb813b02c151b93155deef4",
    ),
    "MSD_vgg": ModelSpec(
        "MSD_vgg", "vgg", "Million Song Dataset (last.fm tags)", 256,
        "0789b2f1d78ed2b95338f4e96af30c5f652025c00e0645b8cf0c879cc8ab4809",
    ),
}


# ---------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """The 96-band mel filterbank musicnn uses (librosa's defaults at 16 kHz).

    Cached: it is a constant of the model, computed once per process.

    Returns
    -------
    np.ndarray [shape=(96, 257)], float32
        ``mel = filterbank @ power_spectrum``; Slaney mel scale, Slaney
        area normalisation, 0 to 8000 Hz.
    """
    import librosa  # imported here: only the preprocessing needs it

    fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, dtype=np.float32)
    fb.setflags(write=False)
    return fb


def log_mel(y: np.ndarray) -> np.ndarray:
    """Log-compressed mel spectrogram of 16 kHz mono audio, as musicnn computes it.

    The engine's one STFT (:mod:`engine.audio.stft`, i.e. ``librosa.stft``, as
    musicnn 0.1.0 used): a periodic Hann window of 512 samples, hop 256,
    centred frames with 256 zeros of padding on each side (librosa >= 0.10);
    the power spectrum, the mel filterbank of :func:`mel_filterbank`, then
    ``log10(1 + 10000 * mel)`` in float32. numpy, single-threaded and in
    blocks of frames: it costs ~1 % of the network's time, and torch's
    threads only slow such small steps down when the machine is busy.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at 16 kHz.

    Returns
    -------
    np.ndarray [shape=(1 + n_samples // 256, 96)], float32
        Time along the first axis, mel bands along the second.

    Raises
    ------
    ParameterError
        If ``y`` is not a non-empty one-dimensional array of finite numbers.
    """
    y = _check_audio(y)
    fb_t = mel_filterbank().T  # [257, 96]
    out = np.empty((frame_count(y.size, hop_length=HOP_LENGTH), N_MELS), dtype=np.float32)
    for first, power in power_blocks(y, n_fft=N_FFT, hop_length=HOP_LENGTH, block=_BLOCK_FRAMES):
        out[first : first + power.shape[0]] = power @ fb_t
    return np.log10(np.float32(1.0) + np.float32(LOG_GAIN) * out)


_BLOCK_FRAMES = 4096  # frames per STFT block in log_mel (~8 MB of complex64)


def patch_starts(n_frames: int, *, step: int = PATCH_FRAMES) -> np.ndarray:
    """First frame of each patch: ``0, step, 2*step, ...`` while a whole patch fits.

    Parameters
    ----------
    n_frames : int
        Frames in the log-mel spectrogram.
    step : int
        Frames between patch starts (187: no overlap, musicnn's default).

    Returns
    -------
    np.ndarray [shape=(n_patches,)], int64
        Empty when ``n_frames < 187``.
    """
    if step < 1:
        raise ParameterError(f"patch step must be at least 1 frame, got {step}")
    if n_frames < PATCH_FRAMES:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_frames - PATCH_FRAMES + 1, step, dtype=np.int64)


def patches(logmel: np.ndarray, *, step: int = PATCH_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Cut a log-mel spectrogram into the model's 187-frame patches.

    Parameters
    ----------
    logmel : np.ndarray [shape=(n_frames, 96)]
        Output of :func:`log_mel`.
    step : int
        Frames between patch starts.

    Returns
    -------
    batch : np.ndarray [shape=(n_patches, 187, 96)], float32
        Model inputs (a copy).
    starts : np.ndarray [shape=(n_patches,)], int64
        First frame of each patch; the patch covers
        ``starts * 256 / 16000`` to ``(starts + 187) * 256 / 16000`` seconds.

    Raises
    ------
    ParameterError
        If ``logmel`` does not have 96 columns.
    """
    if logmel.ndim != 2 or logmel.shape[1] != N_MELS:
        raise ParameterError(f"log-mel must have shape (n_frames, {N_MELS}), got {logmel.shape}")
    starts = patch_starts(logmel.shape[0], step=step)
    index = starts[:, None] + np.arange(PATCH_FRAMES)[None, :]
    return np.ascontiguousarray(logmel[index], dtype=np.float32), starts


def _check_audio(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"audio must be a non-empty 1-D array, got shape {y.shape}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.isfinite(y).all():
        raise ParameterError("audio holds NaN or infinite samples")
    return y


# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------


def _leaf(t: torch.Tensor) -> torch.Tensor:
    """A tensor cut from the graph behind it, requiring grad when grad mode is on.

    Grad-CAM needs gradients down to the last maps only; starting the graph
    there spares the backward pass through the convolutions before them.
    """
    return t.detach().requires_grad_(torch.is_grad_enabled())


def _bn2d(n: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(n, eps=BN_EPS)


def _bn1d(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=BN_EPS)


class Musicnn(nn.Module):
    """musicnn (``MSD_musicnn``/``MTT_musicnn``), layer by layer as in NOTES.md section 2.

    Every layer is conv -> bias -> ReLU -> BN (epsilon 1e-3). Input is
    ``[B, T, 96]`` log-mel patches (T = 187 for the pretrained use; any T
    works, the pooling is global).

    Attribute names and their TF variables: ``input_bn`` =
    ``batch_normalization``; ``timbral_74``/``timbral_77`` = ``conv2d``,
    ``conv2d_1``; ``temporal_128/64/32`` = ``conv2d_2..4``; ``mid1..3`` =
    ``conv2d_5..7``; ``pool_bn`` = ``batch_normalization_9``; ``dense`` =
    ``dense``; ``dense_bn`` = ``batch_normalization_10``; ``output`` =
    ``dense_1`` (see ``scripts/convert_musicnn.py`` for the full table).
    """

    #: (name, output channels, kernel in time, kernel in frequency) of the front-end.
    TIMBRAL = (("timbral_74", 204, 7, 38), ("timbral_77", 204, 7, 67))  # 38 = int(0.4*96), 67 = int(0.7*96)
    TEMPORAL = (("temporal_128", 51, 128, 1), ("temporal_64", 51, 64, 1), ("temporal_32", 51, 32, 1))
    FRONTEND_CHANNELS = 561  # 2 * 204 + 3 * 51
    MIDEND_CHANNELS = 64
    POOLED = 753  # 561 + 3 * 64

    def __init__(self, n_tags: int = 50) -> None:
        super().__init__()
        self.input_bn = _bn2d(1)  # one scalar channel: the model's only input normalisation
        for name, out, kt, kf in self.TIMBRAL + self.TEMPORAL:
            setattr(self, name, nn.Conv2d(1, out, (kt, kf)))
            setattr(self, f"{name}_bn", _bn2d(out))
        self.mid1 = nn.Conv1d(self.FRONTEND_CHANNELS, self.MIDEND_CHANNELS, 7, padding=3)
        self.mid1_bn = _bn1d(self.MIDEND_CHANNELS)
        self.mid2 = nn.Conv1d(self.MIDEND_CHANNELS, self.MIDEND_CHANNELS, 7, padding=3)
        self.mid2_bn = _bn1d(self.MIDEND_CHANNELS)
        self.mid3 = nn.Conv1d(self.MIDEND_CHANNELS, self.MIDEND_CHANNELS, 7, padding=3)
        self.mid3_bn = _bn1d(self.MIDEND_CHANNELS)
        self.pool_bn = _bn1d(2 * self.POOLED)
        self.dense = nn.Linear(2 * self.POOLED, 200)
        self.dense_bn = _bn1d(200)
        self.output = nn.Linear(200, n_tags)

    def _branch(self, name: str, x: torch.Tensor, cams: list | None) -> torch.Tensor:
        """conv -> ReLU -> BN, then the max over the remaining frequency axis: ``[B, C, T]``.

        With ``cams`` (a list) the spec's order is followed literally: the
        full map ``[B, C, T, W]`` after the BN is computed, its max over
        frequency becomes a leaf of the graph, and ``(map, leaf)`` is
        appended (for Grad-CAM). Without, the same numbers come out cheaper:
        ReLU and the inference BN are monotone per channel, so the max over
        frequency can be taken on the conv output first -- the min for
        channels whose BN scale is negative -- and ReLU and BN then touch
        ``[B, C, T]`` instead of the ~20x larger map (bit-identical;
        ``tests/test_musicnn.py``).
        """
        conv, bn = getattr(self, name), getattr(self, f"{name}_bn")
        z = conv(x)
        if cams is not None:
            fmap = bn(F.relu(z))
            pooled = _leaf(fmap.amax(dim=3))
            cams.append((fmap.detach(), pooled))
            return pooled
        low, high = torch.aminmax(z, dim=3)
        increasing = (bn.weight >= 0)[None, :, None]  # sign of gamma / sqrt(var + eps)
        extreme = torch.where(increasing, high, low)
        return bn(F.relu(extreme).unsqueeze(3)).squeeze(3)

    def forward(self, x: torch.Tensor, *, maps: bool = False) -> dict[str, torch.Tensor]:
        """Run the network on a batch of patches.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, T, 96)]
            Log-mel patches from :func:`patches`.
        maps : bool
            Also return, for Grad-CAM, ``maps``: the five front-end maps
            after their BN, ``[B, C, T, 96 - k + 1]`` in :meth:`cam_widths`
            order, and ``cam_leaves``: their maxima over frequency
            ``[B, C, T]``, where the graph starts (when grad mode is on).
            The max routes each gradient to one map position, so a leaf's
            gradient summed over time equals the map's summed over time and
            frequency.

        Returns
        -------
        dict of torch.Tensor
            The features musicnn names (NOTES.md section 2.5), batch first:
            ``timbral`` (B, T, 408), ``temporal`` (B, T, 153), ``cnn1``,
            ``cnn2``, ``cnn3`` (B, T, 64), ``max_pool``, ``mean_pool``
            (B, 753), ``penultimate`` (B, 200), ``logits`` and ``taggram``
            (B, n_tags; the taggram is the sigmoid of the logits).
        """
        kept: list | None = [] if maps else None
        xn = self.input_bn(x.unsqueeze(1))  # [B, 1, T, 96]; padding below is added after this BN
        timbral_in = F.pad(xn, (0, 0, 3, 3))  # 3 frames of zeros each side in time, 'valid' conv
        timbral = [self._branch(name, timbral_in, kept) for name, *_ in self.TIMBRAL]
        temporal = []
        for name, _, kt, _ in self.TEMPORAL:  # TF 'same' for even kernels: the extra frame goes at the end
            before = (kt - 1) // 2
            temporal.append(self._branch(name, F.pad(xn, (0, 0, before, kt - 1 - before)), kept))
        fe = torch.cat(timbral + temporal, dim=1)  # [B, 561, T]
        m1 = self.mid1_bn(F.relu(self.mid1(fe)))
        m2 = self.mid2_bn(F.relu(self.mid2(m1))) + m1  # residual added after the BN
        m3 = self.mid3_bn(F.relu(self.mid3(m2))) + m2
        me = torch.cat([fe, m1, m2, m3], dim=1)  # [B, 753, T]
        max_pool = me.amax(dim=2)
        mean_pool = me.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # interleaved: max0, mean0, max1, ...
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        logits = self.output(penultimate)
        out = {
            "timbral": torch.cat(timbral, dim=1).transpose(1, 2),
            "temporal": torch.cat(temporal, dim=1).transpose(1, 2),
            "cnn1": m1.transpose(1, 2),
            "cnn2": m2.transpose(1, 2),
            "cnn3": m3.transpose(1, 2),
            "max_pool": max_pool,
            "mean_pool": mean_pool,
            "penultimate": penultimate,
            "logits": logits,
            "taggram": torch.sigmoid(logits),
        }
        if kept is not None:
            out["maps"] = [fmap for fmap, _ in kept]
            out["cam_leaves"] = [leaf for _, leaf in kept]
        return out

    def cam_widths(self) -> tuple[int, ...]:
        """Frequency width ``k`` of the kernel behind each of the ``maps``.

        The mid-end convolutions see time only (the front-end already took
        the max over frequency), so the last maps with a mel axis -- the
        Grad-CAM targets -- are the five front-end branches. Column ``j`` of
        a map made by a kernel ``k`` bins wide sees mel bins ``j .. j+k-1``.
        """
        return tuple(kf for *_, kf in self.TIMBRAL + self.TEMPORAL)


class MusicnnVGG(nn.Module):
    """musicnn's VGG-like baseline (``MSD_vgg``), as in NOTES.md section 3.

    Input BN, then five blocks of conv 3x3 'same' -> ReLU -> BN -> max-pool
    ('valid'), the pool5 map flattened in TF's NHWC order (256 numbers), and
    one dense layer to the tags. Needs exactly 187 frames.
    """

    POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))

    def __init__(self, n_tags: int = 50) -> None:
        super().__init__()
        self.input_bn = _bn2d(1)
        for i in range(1, 6):
            setattr(self, f"conv{i}", nn.Conv2d(1 if i == 1 else 128, 128, 3, padding=1))
            setattr(self, f"bn{i}", _bn2d(128))
        self.output = nn.Linear(256, n_tags)

    def forward(self, x: torch.Tensor, *, maps: bool = False) -> dict[str, torch.Tensor]:
        """Run the network on a batch of patches.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, 187, 96)]
            Log-mel patches.
        maps : bool
            Also return ``maps`` = ``cam_leaves`` = ``[block-5 map after
            its BN]``, ``[B, 128, 11, 6]``, the last convolutional map, as a
            leaf of the graph (for Grad-CAM; see :meth:`Musicnn.forward`).

        Returns
        -------
        dict of torch.Tensor
            ``pool1`` (B, 92, 48, 128) ... ``pool5`` (B, 2, 1, 128), in TF's
            NHWC layout; ``flatten`` (B, 256), the input of the classifier
            (this model's embedding); ``logits`` and ``taggram`` (B, n_tags).
        """
        if x.shape[1] != PATCH_FRAMES:
            raise ParameterError(f"MSD_vgg needs {PATCH_FRAMES}-frame patches, got {x.shape[1]}")
        h = self.input_bn(x.unsqueeze(1))
        out: dict = {}
        for i, (size, stride) in enumerate(self.POOLS, start=1):
            conv, bn = getattr(self, f"conv{i}"), getattr(self, f"bn{i}")
            h = bn(F.relu(conv(h)))
            if maps and i == 5:
                h = _leaf(h)
                out["maps"] = out["cam_leaves"] = [h]
            h = F.max_pool2d(h, size, stride)
            out[f"pool{i}"] = h.permute(0, 2, 3, 1)  # NCHW -> NHWC, as the references hold it
        out["flatten"] = out["pool5"].flatten(1)  # index = t * 128 + c
        out["logits"] = self.output(out["flatten"])
        out["taggram"] = torch.sigmoid(out["logits"])
        return out

    def cam_widths(self) -> tuple[int, ...]:
        """``(0,)``: the one map is resized onto the input, not projected through a kernel."""
        return (0,)


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A pretrained model ready for inference, and where its weights came from."""

    name: str  # e.g. "MSD_musicnn"
    module: nn.Module  # in eval mode, parameters frozen
    tags: tuple[str, ...]  # tag names, in taggram column order
    weights_file: str  # path of the safetensors file
    weights_sha256: str  # sha256 of that file's bytes
    device: str  # "cpu" or "cuda"


def build(name: str) -> nn.Module:
    """The untrained architecture of a model (only the weight converter needs this).

    Raises
    ------
    ParameterError
        If ``name`` is not one of :data:`MODELS`.
    """
    spec = _spec(name)
    return Musicnn() if spec.architecture == "musicnn" else MusicnnVGG()


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ParameterError(f"unknown musicnn model {name!r}; choose one of {sorted(MODELS)}") from None


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]).get("__metadata__", {})


@functools.lru_cache(maxsize=8)
def load(name: str, *, device: str = "cpu") -> LoadedModel:
    """Load a pretrained musicnn model from the weights bundled with the engine.

    Cached per ``(name, device)`` for the life of the process: the files
    never change while it runs, and reading and hashing them costs ~50 ms.

    Parameters
    ----------
    name : str
        ``"MSD_musicnn"``, ``"MTT_musicnn"`` or ``"MSD_vgg"``.
    device : str
        A torch device string, e.g. ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ParameterError
        If ``name`` is unknown.
    ModelError
        If the weights file is missing, unreadable, or does not fit the network.
    """
    from safetensors.torch import load as load_safetensors

    spec = _spec(name)
    path = WEIGHTS_DIR / f"{name}.safetensors"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"musicnn weights {path} cannot be read ({exc}); run scripts/convert_musicnn.py") from exc
    sha256 = hashlib.sha256(data).hexdigest()
    if sha256 != spec.sha256:
        raise ModelError(f"{path} has sha256 {sha256[:16]}..., not the converted weights' {spec.sha256[:16]}...")
    try:
        state = load_safetensors(data)
        tags = tuple(json.loads(_safetensors_metadata(data)["tags"]))
    except Exception as exc:  # safetensors raises its own types; a bad file is a model error
        raise ModelError(f"cannot read musicnn weights {path}: {exc}") from exc
    module = build(name)
    if len(tags) != module.output.out_features:
        raise ModelError(f"{path} lists {len(tags)} tags; the network has {module.output.out_features} outputs")
    expected = {k for k in module.state_dict() if not k.endswith("num_batches_tracked")}
    if set(state) != expected:
        raise ModelError(f"{path} does not fit {name}: differing tensors {sorted(set(state) ^ expected)[:5]}")
    try:
        module.load_state_dict(state, strict=False)  # num_batches_tracked is not used at inference
    except RuntimeError as exc:
        raise ModelError(f"{path} does not fit {name}: {exc}") from exc
    module.eval().requires_grad_(False).to(device)
    return LoadedModel(
        name=name,
        module=module,
        tags=tags,
        weights_file=str(path),
        weights_sha256=sha256,
        device=str(device),
    )
