"""Frozen, hashable, validated configuration.

Every setting that changes a result lives in one of these dataclasses. They
hold only primitives (and tuples of primitives), so they hash and compare by
value, and :meth:`digest` gives a stable hex string that is both the cache
key in the store and the provenance stamp written into every export.

The configuration is split along the lines of what each part invalidates:

* :class:`FrameConfig` -- decoding rate and STFT settings. Changing it means
  decoding and transforming the audio again.
* :class:`SegmentConfig`, :class:`AggregateConfig`, :class:`SelectConfig` --
  how frame-level features become section rows. Changing them only
  re-aggregates stored frames (no decoding).
* :class:`DecodeConfig` -- limits on input files.

:data:`LARGE_ROWS` (50,000) is the one stated threshold at which the
analysis layer switches to methods that scale; ``ClusterConfig.large_rows``
carries it, so it is part of every clustering digest.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from ._digest import _digest_fields, _normalise_number, digest_of
from .errors import ParameterError

__all__ = [
    "FrameConfig",
    "SegmentConfig",
    "AggregateConfig",
    "SelectConfig",
    "DecodeConfig",
    "AnalysisConfig",
    "EmbedConfig",
    "ClusterConfig",
    "MixConfig",
    "Quotas",
    "NamedStore",
    "DeploymentConfig",
    "deployment_from_mapping",
    "LARGE_ROWS",
    "is_large",
    "PRESETS",
    "THESIS_FEATURES",
    "preset",
    "digest_of",
]

#: Rows (sections or pieces) at or above which clustering, similar-section
#: search and projection switch to methods that scale (mini-batch K-Means,
#: fits on seeded samples, an approximate neighbour index); the default of
#: ``ClusterConfig.large_rows``. Below it every result is exact, as before.
LARGE_ROWS = 50_000


def is_large(n_rows: int, large_rows: int) -> bool:
    """Do ``n_rows`` rows take the scalable methods at threshold ``large_rows`` (0 = never)?"""
    return bool(large_rows) and n_rows >= large_rows

#: The 17 features the thesis modelled with.
THESIS_FEATURES: tuple[str, ...] = (
    "amplitude_envelope",
    "rmse",
    "zero_crossing_rate",
    "spectral_centroid",
    *(f"mfcc{i}" for i in range(1, 14)),
)


class _Config:
    """Mixin: number normalisation on construction, digest and a plain-dict view.

    Every subclass's ``__post_init__`` first turns each ``int``/``float`` field
    into its declared type (see :func:`_normalise_number`), so configs that
    compare equal also hash and digest equally.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__post_init__")

        def __post_init__(self) -> None:
            for f in dataclasses.fields(self):
                kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
                if kind in ("int", "float"):
                    value = getattr(self, f.name)
                    fixed = _normalise_number(value, kind, f"{type(self).__name__}.{f.name}")
                    if fixed is not value:
                        object.__setattr__(self, f.name, fixed)
            if own is not None:
                own(self)

        cls.__post_init__ = __post_init__

    def digest(self) -> str:
        """Stable digest of every field; see :func:`digest_of`."""
        return digest_of(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ParameterError(message)


@dataclass(frozen=True)
class FrameConfig(_Config):
    """Decoding rate and frame (STFT) settings for the classical features."""

    sample_rate: int = 44_100  # Hz, the analysis rate every file is resampled to
    n_fft: int = 2048  # samples per STFT frame (and per time-domain frame)
    hop_length: int = 512  # samples between frame centres
    n_mels: int = 128  # mel bands behind the MFCCs and onset strength
    n_mfcc: int = 20  # MFCC coefficients kept (1..n_mfcc)
    n_chroma: int = 12  # chroma bins
    n_contrast_bands: int = 6  # spectral-contrast bands (+1 valley row)
    contrast_fmin: float = 200.0  # Hz, lowest contrast band edge
    rolloff_percent: float = 0.85  # energy fraction for spectral rolloff

    def __post_init__(self) -> None:
        _check(8_000 <= self.sample_rate <= 192_000, f"sample_rate must be in 8000..192000 Hz, got {self.sample_rate}")
        _check(self.n_fft >= 64 and self.n_fft & (self.n_fft - 1) == 0, f"n_fft must be a power of two >= 64, got {self.n_fft}")
        _check(0 < self.hop_length <= self.n_fft, f"hop_length must be in 1..n_fft, got {self.hop_length}")
        _check(1 <= self.n_mfcc <= self.n_mels, f"n_mfcc must be in 1..n_mels, got {self.n_mfcc}")
        _check(0.0 < self.rolloff_percent < 1.0, f"rolloff_percent must be in (0, 1), got {self.rolloff_percent}")


@dataclass(frozen=True)
class SegmentConfig(_Config):
    """How a track is cut into sections and pieces.

    ``mode="fixed"`` cuts sections of ``section_seconds`` from the start; the
    remainder at the end becomes a last, *partial* section when it is at least
    ``min_last_fraction`` of a section, and is dropped otherwise.
    ``mode="thesis"`` reproduces the thesis: ``steps = ceil(duration) // 15 - 1``
    contiguous equal sections of ``len(y) // steps`` samples.
    ``mode="bars"`` cuts sections of ``bars`` bars from the first downbeat
    (:mod:`engine.describe.bars`), the last one kept as in ``fixed``;
    ``mode="phrases"`` one section per phrase (:mod:`engine.describe.phrases`).
    """

    section_seconds: float = 15.0  # 1..60 s
    piece_seconds: float = 1.0  # pieces inside each section, for the CNNs
    mode: str = "fixed"  # "fixed" | "thesis" | "bars" | "phrases"
    min_last_fraction: float = 0.5  # keep a last section at least this fraction long
    bars: int = 8  # mode "bars": bars per section, 1..64

    _LATER_FIELDS = ("bars",)  # added later: left out of the digest at its default (see digest_of)

    def __post_init__(self) -> None:
        _check(1.0 <= self.section_seconds <= 60.0, f"section_seconds must be in 1..60, got {self.section_seconds}")
        _check(0.1 <= self.piece_seconds <= self.section_seconds, f"piece_seconds must be in 0.1..section_seconds, got {self.piece_seconds}")
        _check(self.mode in ("fixed", "thesis", "bars", "phrases"), f"segment mode must be fixed, thesis, bars or phrases, got {self.mode!r}")
        _check(1 <= self.bars <= 64, f"bars must be in 1..64, got {self.bars}")
        _check(0.0 < self.min_last_fraction <= 1.0, f"min_last_fraction must be in (0, 1], got {self.min_last_fraction}")


@dataclass(frozen=True)
class AggregateConfig(_Config):
    """How the frames of one section become one row of features."""

    statistic: str = "median"  # "median" (the thesis) | "mean"
    with_std: bool = False  # add a <name>_std column per feature
    zcr: str = "mean"  # "mean" rate, or "sum" over frames (the thesis)
    features: tuple[str, ...] = ()  # columns to keep; () keeps every feature but the key's tonal_*, bass_*

    def __post_init__(self) -> None:
        _check(self.statistic in ("median", "mean"), f"statistic must be 'median' or 'mean', got {self.statistic!r}")
        _check(self.zcr in ("mean", "sum"), f"zcr must be 'mean' or 'sum', got {self.zcr!r}")
        _check(isinstance(self.features, tuple), "features must be a tuple of names")


@dataclass(frozen=True)
class SelectConfig(_Config):
    """Which sections are representative of their track.

    ``all`` keeps every section; ``energy`` keeps the loudest ``fraction`` of
    each track by RMS; ``thesis`` applies the thesis's real rule (min-max RMS
    and centroid within the song, ratio centroid/RMS ranked descending, keep
    rank <= fraction x count).
    """

    rule: str = "all"  # "all" | "energy" | "thesis"
    fraction: float = 0.6

    def __post_init__(self) -> None:
        _check(self.rule in ("all", "energy", "thesis"), f"rule must be 'all', 'energy' or 'thesis', got {self.rule!r}")
        _check(0.0 < self.fraction <= 1.0, f"fraction must be in (0, 1], got {self.fraction}")


@dataclass(frozen=True)
class DecodeConfig(_Config):
    """Limits on input files."""

    max_file_bytes: int = 500 * 1024 * 1024  # refuse larger files
    min_sample_rate: int = 8_000  # Hz
    max_sample_rate: int = 192_000  # Hz
    max_channels: int = 64
    max_seconds: float = 7_200.0  # refuse longer audio (2 hours: a long DJ mix, ~1.3 GB decoded at 44.1 kHz)
    # audio longer than this is kept in a temporary file, not in memory, while the analysis
    # describes it (decode_file(spill=True)); results are the same, memory stays bounded
    hold_seconds: float = 600.0

    def __post_init__(self) -> None:
        _check(self.max_file_bytes > 0, f"max_file_bytes must be positive, got {self.max_file_bytes}")
        _check(self.max_seconds > 0, f"max_seconds must be positive, got {self.max_seconds}")
        _check(self.hold_seconds >= 0, f"hold_seconds must be >= 0, got {self.hold_seconds}")
        _check(0 < self.min_sample_rate <= self.max_sample_rate, "min_sample_rate must be <= max_sample_rate")
        _check(self.max_channels >= 1, f"max_channels must be >= 1, got {self.max_channels}")


@dataclass(frozen=True)
class AnalysisConfig(_Config):
    """Everything that decides a section table."""

    frames: FrameConfig = field(default_factory=FrameConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    aggregate: AggregateConfig = field(default_factory=AggregateConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def section_digest(self) -> str:
        """Digest of what decides section rows from stored frames (not the decode limits)."""
        return digest_of(_SectionKey(self.frames, self.segment, self.aggregate, self.select))


@dataclass(frozen=True)
class _SectionKey(_Config):
    frames: FrameConfig
    segment: SegmentConfig
    aggregate: AggregateConfig
    select: SelectConfig


@dataclass(frozen=True)
class EmbedConfig(_Config):
    """CNN embeddings of pieces (see engine/neural/embed.py)."""

    model: str = "musicnn"  # "musicnn" (MSD) | "musicnn-mtt" | "msd-vgg" | "vggish" | "none"
    sample_rate: int = 16_000  # Hz; both CNNs were trained at 16 kHz
    batch_size: int = 0  # pieces per forward pass; 0 = auto (CPU: 2 musicnn, 16 VGGish; CUDA: 64; see bench/embed.py)
    layer: str = "penultimate"  # "penultimate" (layer before the classifier) | "mean_pool" | "max_pool" (musicnn only, 753-d)
    vggish_postprocess: bool = False  # PCA + 8-bit quantisation (values 0..255, as in the thesis)
    weights_path: str = ""  # explicit weights file (VGGish); "" = search the usual places
    vggish_pca_path: str = ""  # explicit PCA parameters file (VGGish postprocessor); "" = search
    allow_download: bool = False  # may VGGish weights be downloaded (hash-checked)?
    device: str = "auto"  # "auto" | "cpu" | "cuda"

    def __post_init__(self) -> None:
        _check(
            self.model in ("musicnn", "musicnn-mtt", "msd-vgg", "vggish", "none"),
            f"embedding model must be musicnn, musicnn-mtt, msd-vgg, vggish or none, got {self.model!r}",
        )
        _check(self.sample_rate == 16_000, f"the CNNs need 16000 Hz input, got {self.sample_rate}")
        _check(0 <= self.batch_size <= 4096, f"batch_size must be in 0..4096 (0 = auto), got {self.batch_size}")
        _check(self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {self.device!r}")
        _check(self.layer in ("penultimate", "mean_pool", "max_pool"), f"unknown embedding layer {self.layer!r}")
        _check(
            self.layer == "penultimate" or self.model in ("musicnn", "musicnn-mtt"),
            f"layer {self.layer!r} exists only in the musicnn models, not in {self.model!r}",
        )

    def cache_digest(self) -> str:
        """Digest of what decides the stored vectors: model, layer, sample rate and VGGish postprocessing.

        Run-time settings (batch size, device, where the weights were found,
        whether they may be downloaded) are left out: they do not change a
        vector, so changing them must not re-embed the library. The weights
        themselves enter the cache key by their content hash (see
        :func:`engine.store.core.pieces_key`).
        """
        return digest_of(_EmbedKey(self.model, self.layer, self.sample_rate, self.vggish_postprocess))


@dataclass(frozen=True)
class _EmbedKey(_Config):
    model: str
    layer: str
    sample_rate: int
    vggish_postprocess: bool


@dataclass(frozen=True)
class ClusterConfig(_Config):
    """How a feature table is scaled, clustered and projected (see engine/analysis/cluster.py)."""

    method: str = "kmeans"  # "kmeans" | "fcm" | "agglomerative" | "hdbscan"
    k: int = 4  # clusters (ignored by hdbscan)
    metric: str = "euclidean"  # "euclidean" | "cosine" | "manhattan" | "correlation"
    scaler: str = "zscore"  # "zscore" | "minmax" | "robust" | "l2-column"
    features: tuple[str, ...] = ()  # columns to use; () = the default modelling set
    dedupe: bool = False  # drop identical rows after scaling (the thesis did)
    seed: int = 42  # feeds every random step
    n_init: int = 10  # K-Means restarts
    fcm_m: float = 2.0  # fuzzy c-means fuzziness
    fcm_margin: float = 0.1  # boundary: top-two memberships closer than this
    linkage: str = "average"  # agglomerative linkage: "ward" | "average" | "complete" | "single"
    min_cluster_size: int = 5  # hdbscan
    fit_sample: int = 0  # K-Means/fcm: fit on this many seeded rows, then assign all; 0 = fit on all rows
    silhouette_sample: int = 2000  # rows sampled (seeded) for the silhouette; exact at or below this count
    large_rows: int = LARGE_ROWS  # at or above this many rows, use the scalable methods (LARGE_ROWS; 0 = never)
    scale_sample: int = 0  # fcm/hdbscan at or above large_rows: fit on this many seeded rows; 0 = the method's default
    space: str = "classical"  # similar sections: "classical" | "musicnn" | "fused" | "invariant" (engine/analysis/spaces.py)
    fused_weight: float = 0.5  # fused space: the classical features' share (the embeddings take the rest)
    _LATER_FIELDS = ("space", "fused_weight")  # added later: left out of the digest at their defaults (see digest_of)

    def __post_init__(self) -> None:
        _check(self.method in ("kmeans", "fcm", "agglomerative", "hdbscan"), f"unknown clustering method {self.method!r}")
        _check(2 <= self.k <= 100, f"k must be in 2..100, got {self.k}")
        _check(self.metric in ("euclidean", "cosine", "manhattan", "correlation"), f"unknown metric {self.metric!r}")
        _check(self.scaler in ("zscore", "minmax", "robust", "l2-column"), f"unknown scaler {self.scaler!r}")
        _check(isinstance(self.features, tuple), "features must be a tuple of names")
        _check(self.n_init >= 1, f"n_init must be >= 1, got {self.n_init}")
        _check(self.fcm_m > 1.0, f"fcm_m must be > 1, got {self.fcm_m}")
        _check(0.0 <= self.fcm_margin < 1.0, f"fcm_margin must be in [0, 1), got {self.fcm_margin}")
        _check(self.space in ("classical", "musicnn", "fused", "invariant"), f"unknown similarity space {self.space!r}")
        _check(0.0 <= self.fused_weight <= 1.0, f"fused_weight must be in [0, 1], got {self.fused_weight}")
        _check(self.linkage in ("ward", "average", "complete", "single"), f"unknown linkage {self.linkage!r}")
        _check(self.min_cluster_size >= 2, f"min_cluster_size must be >= 2, got {self.min_cluster_size}")
        _check(self.fit_sample == 0 or self.fit_sample >= 100, f"fit_sample must be 0 (all rows) or >= 100, got {self.fit_sample}")
        _check(self.silhouette_sample >= 100, f"silhouette_sample must be >= 100, got {self.silhouette_sample}")
        _check(self.large_rows == 0 or self.large_rows >= 1_000, f"large_rows must be 0 (never) or >= 1000, got {self.large_rows}")
        _check(self.scale_sample == 0 or self.scale_sample >= 100, f"scale_sample must be 0 (the method's default) or >= 100, got {self.scale_sample}")


@dataclass(frozen=True)
class MixConfig(_Config):
    """DJ-mixing descriptors and compatibility (see engine/describe/rhythm.py, engine/describe/key.py and engine/mixing/).

    ``bpm_min``/``bpm_max`` and ``key_profile`` decide stored descriptors
    (:meth:`descriptor_digest`); the rest only decide rankings and previews.
    """

    bpm_min: float = 85.0  # BPM, lowest plausible tempo; estimates are folded by octaves into the range
    bpm_max: float = 180.0  # BPM, highest plausible tempo
    tempo_tolerance: float = 0.06  # largest relative BPM difference still mixable (also at half/double time)
    key_profile: str = "krumhansl"  # "krumhansl" | "temperley" | "edma" (Faraldo et al. 2016, EDM)
    weight_timbre: float = 0.4  # weights of the suggestion score (normalised by their sum)
    weight_tempo: float = 0.25
    weight_key: float = 0.2
    weight_energy: float = 0.15
    energy_direction: str = "any"  # "any" | "up" | "down" | "same": the energy step preferred
    other_tracks: bool = True  # suggest only sections of other tracks
    require_compatible: bool = True  # mix paths: every step tempo- and key-compatible
    graph_neighbours: int = 15  # mix paths: edges kept per section (best scores)
    crossfade_bars: int = 8  # transition preview: bars of 4 beats in the crossfade
    lead_bars: int = 4  # transition preview: bars of A alone before the crossfade
    tail_bars: int = 4  # transition preview: bars of B alone after the crossfade

    def __post_init__(self) -> None:
        _check(20.0 <= self.bpm_min < self.bpm_max <= 400.0, f"need 20 <= bpm_min < bpm_max <= 400, got {self.bpm_min}..{self.bpm_max}")
        _check(self.bpm_max >= 1.9 * self.bpm_min, f"the BPM range must span about an octave (max >= 1.9 x min), got {self.bpm_min}..{self.bpm_max}")
        _check(0.0 < self.tempo_tolerance <= 0.3, f"tempo_tolerance must be in (0, 0.3], got {self.tempo_tolerance}")
        _check(self.key_profile in ("krumhansl", "temperley", "edma"), f"unknown key profile {self.key_profile!r}")
        weights = (self.weight_timbre, self.weight_tempo, self.weight_key, self.weight_energy)
        _check(all(w >= 0.0 for w in weights) and sum(weights) > 0.0, f"weights must be >= 0 with a positive sum, got {weights}")
        _check(self.energy_direction in ("any", "up", "down", "same"), f"unknown energy direction {self.energy_direction!r}")
        _check(1 <= self.graph_neighbours <= 200, f"graph_neighbours must be in 1..200, got {self.graph_neighbours}")
        _check(1 <= self.crossfade_bars <= 64, f"crossfade_bars must be in 1..64, got {self.crossfade_bars}")
        _check(0 <= self.lead_bars <= 64 and 0 <= self.tail_bars <= 64, "lead_bars and tail_bars must be in 0..64")

    def descriptor_digest(self) -> str:
        """Digest of what decides stored descriptors: the tempo range, the key profile and the rules' version."""
        return digest_of(_DescriptorKey(self.bpm_min, self.bpm_max, self.key_profile))


#: Bump when the descriptor rules change what they store, so descriptors cached under old rules are computed
#: again (2: tempo notes name their alternative, the key from tonal evidence; 3: each beat's place in its bar;
#: 4: the key from the long-window tonal and bass chroma, its confidence lowered by a narrow margin).
DESCRIPTOR_RULES = 4


@dataclass(frozen=True)
class _DescriptorKey(_Config):
    bpm_min: float
    bpm_max: float
    key_profile: str
    rules: int = DESCRIPTOR_RULES

@dataclass(frozen=True)
class Quotas(_Config):
    """What one visitor of a public deployment may upload: per upload and in total (see engine/run/quotas.py)."""

    upload_files: int = 40  # files in one upload
    upload_bytes: int = 400 * 2**20  # bytes in one upload
    upload_minutes: float = 120.0  # minutes of audio in one upload
    total_files: int = 120  # files a visitor holds at once
    total_bytes: int = 1 * 2**30  # bytes a visitor holds at once
    total_minutes: float = 360.0  # minutes of audio a visitor holds at once

    def __post_init__(self) -> None:
        for name in ("upload_files", "upload_bytes", "upload_minutes", "total_files", "total_bytes", "total_minutes"):
            _check(getattr(self, name) > 0, f"quota {name} must be positive, got {getattr(self, name)}")
        _check(self.upload_files <= self.total_files, "quota upload_files must be <= total_files")
        _check(self.upload_bytes <= self.total_bytes, "quota upload_bytes must be <= total_bytes")
        _check(self.upload_minutes <= self.total_minutes, "quota upload_minutes must be <= total_minutes")


@dataclass(frozen=True)
class NamedStore(_Config):
    """A store the operator names: visitors of a public deployment open it by ``name`` only.

    ``options`` (fsspec storage options: credentials, an endpoint) is kept as
    canonical JSON text so the record stays hashable; it is never shown.
    """

    name: str
    url: str = field(repr=False)
    options: str = field(default="{}", repr=False)

    def __post_init__(self) -> None:
        _check(bool(self.name.strip()), "a named store needs a name")
        _check(bool(self.url.strip()), f"the store {self.name!r} needs a url")

    def storage_options(self) -> dict[str, Any]:
        return json.loads(self.options)


#: The deployment modes: one trusted user with free paths, or strangers sharing a server.
MODES = ("local", "public")


@dataclass(frozen=True)
class DeploymentConfig(_Config):
    """How the app is deployed, as the operator states it (Streamlit secrets, section ``[cratemap]``).

    ``local`` (the default, for ``make run`` and the CLI): one trusted user,
    who may open any folder or URL. ``public`` (for Streamlit Community Cloud):
    every visitor has a private library within :class:`Quotas`, opens only
    the ``stores`` named here, and waits in a queue of at most
    ``max_analyses`` analyses at once; visitor data beyond ``disk_budget_bytes``
    is evicted least recently used first, and a visitor without login keeps
    theirs for ``grace_s`` after their last action.
    """

    mode: str = "local"
    quotas: Quotas = field(default_factory=Quotas)
    stores: tuple[NamedStore, ...] = ()
    max_analyses: int = 2  # analyses running at once on the whole server; the rest wait in a queue
    disk_budget_bytes: int = 4 * 2**30  # visitor uploads and stores kept on the server's disk
    grace_s: float = 2 * 3600.0  # how long a visitor without login keeps their library after their last action
    reviews_url: str = field(default="", repr=False)  # SQLAlchemy URL of the review database ("": SQLite in the data folder)

    def __post_init__(self) -> None:
        _check(self.mode in MODES, f"mode must be one of {list(MODES)}, got {self.mode!r}")
        _check(self.max_analyses >= 1, f"max_analyses must be >= 1, got {self.max_analyses}")
        _check(self.disk_budget_bytes > 0, f"disk_budget_bytes must be positive, got {self.disk_budget_bytes}")
        _check(self.grace_s >= 0, f"grace_s must be >= 0, got {self.grace_s}")
        names = [s.name for s in self.stores]
        _check(len(names) == len(set(names)), f"store names must be unique, got {names}")

    @property
    def public(self) -> bool:
        return self.mode == "public"

    def store_named(self, name: str) -> NamedStore | None:
        """The operator's store called ``name``, or None."""
        return next((s for s in self.stores if s.name == name), None)


def deployment_from_mapping(values: Any) -> DeploymentConfig:
    """A :class:`DeploymentConfig` from the ``[cratemap]`` section of Streamlit's secrets (any mapping).

    Keys: ``mode``, ``max_analyses``, ``disk_budget_mb``, ``grace_minutes``,
    ``reviews_url``, a ``quotas`` table (``upload_files``, ``upload_mb``,
    ``upload_minutes``, ``total_files``, ``total_mb``, ``total_minutes``) and a
    ``stores`` table of name -> {``url``, ``options``}. Missing keys keep their defaults.

    Raises
    ------
    ParameterError
        For an unknown key or a bad value (the message names the key, never a value of ``options``).
    """
    values = dict(values or {})
    known = {"mode", "max_analyses", "disk_budget_mb", "grace_minutes", "reviews_url", "quotas", "stores"}
    unknown = sorted(set(values) - known)
    _check(not unknown, f"unknown [cratemap] settings {unknown}; known: {sorted(known)}")
    quota_values = dict(values.get("quotas") or {})
    quota_keys = {"upload_files", "upload_mb", "upload_minutes", "total_files", "total_mb", "total_minutes"}
    unknown = sorted(set(quota_values) - quota_keys)
    _check(not unknown, f"unknown [cratemap.quotas] settings {unknown}; known: {sorted(quota_keys)}")
    quota_args = {k: quota_values[k] for k in ("upload_files", "upload_minutes", "total_files", "total_minutes") if k in quota_values}
    for mb, name in (("upload_mb", "upload_bytes"), ("total_mb", "total_bytes")):
        if mb in quota_values:
            quota_args[name] = int(float(quota_values[mb]) * 2**20)
    stores = []
    for name, spec in dict(values.get("stores") or {}).items():
        spec = dict(spec) if not isinstance(spec, str) else {"url": spec}
        _check(set(spec) <= {"url", "options"}, f"the store {name!r} takes only 'url' and 'options'")
        options = spec.get("options") or {}
        _check(isinstance(options, dict), f"the options of the store {name!r} must be a table")
        stores.append(NamedStore(name=str(name), url=str(spec.get("url", "")), options=json.dumps(_plain(options), sort_keys=True)))
    args: dict[str, Any] = {"quotas": Quotas(**quota_args), "stores": tuple(stores)}
    for key in ("mode", "max_analyses", "reviews_url"):
        if key in values:
            args[key] = values[key]
    if "disk_budget_mb" in values:
        args["disk_budget_bytes"] = int(float(values["disk_budget_mb"]) * 2**20)
    if "grace_minutes" in values:
        args["grace_s"] = float(values["grace_minutes"]) * 60.0
    return DeploymentConfig(**args)


def _plain(value: Any) -> Any:
    """Nested mappings (Streamlit's secrets are AttrDicts) as plain dicts, for JSON."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _thesis() -> AnalysisConfig:
    return AnalysisConfig(
        segment=SegmentConfig(mode="thesis"),
        aggregate=AggregateConfig(statistic="median", zcr="sum", features=THESIS_FEATURES),
        select=SelectConfig(rule="thesis", fraction=0.6),
    )


#: Named presets for the CLI and the app.
PRESETS = {"default": AnalysisConfig, "thesis": _thesis}


def preset(name: str) -> AnalysisConfig:
    """Return the named preset's :class:`AnalysisConfig`.

    Raises
    ------
    ParameterError
        If ``name`` is not in :data:`PRESETS`.
    """
    try:
        return PRESETS[name]()
    except KeyError:
        raise ParameterError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
