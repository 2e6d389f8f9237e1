"""Key and mode from chroma, in standard and Camelot notation.

A section's (or track's) chroma comes from its stored ``chroma_0 .. chroma_11``
frames (``chroma_0`` is C; librosa scales each frame to a maximum of 1, with
the track's tuning estimated). Those frames are nearly flat: drums, noise and
reverb fill every bin, and the per-frame scaling lifts quiet frames as high as
loud ones. So :func:`tonal_chroma` keeps only the tonal evidence:

* each frame's floor (its median bin) is taken off, so what counts is what
  stands above it (a chord's notes, not the wash under them);
* each frame counts by its level (RMS) times how peaked it is: ``1 - mean``
  of the frame (0 for a flat frame, 11/12 for one pitch) above 0.3; flat
  frames (drums, noise) count for nothing;
* the share of the level held by tonal frames is the ``clarity`` (0..1).

The analysis reads the key's own long-window columns (``tonal_*``, which
resolve low notes, and ``bass_*``; see :mod:`engine.describe.tonal`) where
the frames hold them, and the classical ``chroma_*`` columns of older stores.

Every step acts on each bin alike, so the estimate is exactly
transposition-equivariant: a chroma rolled by n bins gives the key n
semitones away. The chroma is correlated (Pearson) with the 24 rotations of a
major and a minor key profile. A key and its relative share their notes, so
their correlations differ by hundredths, and the profile alone calls a
natural-minor i-VI-III-VII loop its relative major; the bass settles it:
each key scores its correlation plus :data:`BASS_WEIGHT` times the share of
the bass chroma on its tonic (:func:`bass_profile`). The best score is the
key, its correlation the ``strength``, and ``(best - second) / best`` of the
scores the ``margin``. The ``confidence`` is strength x clarity x
``min(1, margin / FULL_MARGIN)``: low for atonal, drum-only and noisy
stretches, and for stretches that cannot tell two keys apart. Below
:data:`CLEAR_KEY` the app says "no clear key" instead of a guess.

Profiles (index 0 = tonic):

* ``krumhansl`` -- Krumhansl & Kessler (1982) probe-tone ratings;
* ``temperley`` -- Temperley's revised profiles (1999, "What's key for key?");
* ``edma`` -- Faraldo, Gómez, Jordà & Herrera (2016), "Key estimation in
  electronic dance music" (ECIR), derived from an EDM corpus.

Camelot: the wheel's number ``n`` steps by fifths (C major = 8B, G major = 9B;
A minor = 8A); ``A`` is minor and ``B`` major; a relative minor/major pair
shares a number. How one code follows another (same, +-1, relative, +-2,
clash) is decided here only: :func:`camelot_relation` for a pair,
:func:`camelot_relation_index` for arrays of pairs (what the mixing stage uses).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..records import Key

__all__ = [
    "PROFILES",
    "estimate_key",
    "section_chroma",
    "tonal_chroma",
    "bass_profile",
    "CLEAR_KEY",
    "BASS_WEIGHT",
    "FULL_MARGIN",
    "camelot",
    "key_name",
    "parse_camelot",
    "camelot_relation",
    "camelot_relation_index",
    "CAMELOT_RELATIONS",
    "COMPATIBLE_RELATIONS",
    "RELATION_WORDS",
    "PITCH_NAMES",
]

#: Major and minor profiles, tonic first.
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
    "edma": (
        (1.0000, 0.2875, 0.5020, 0.4048, 0.6050, 0.5614, 0.3205, 0.7966, 0.3159, 0.4506, 0.4202, 0.3889),
        (1.0000, 0.3096, 0.4415, 0.5827, 0.3262, 0.4948, 0.2889, 0.7804, 0.4328, 0.2903, 0.5331, 0.3217),
    ),
}

#: Tonic names as DJs write them (flats for Db, Eb, Ab, Bb; F# both ways is common, we use F#).
PITCH_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def key_name(tonic: int, mode: str, *, short: bool = False) -> str:
    """Standard notation of a key: ``"A minor"`` (``short``: ``"Am"``), ``"Db major"`` (``"Db"``)."""
    _check_key(tonic, mode)
    if mode == "minor":
        return f"{_MINOR_NAMES[tonic]}m" if short else f"{_MINOR_NAMES[tonic]} minor"
    return PITCH_NAMES[tonic] if short else f"{PITCH_NAMES[tonic]} major"


def _check_key(tonic: int, mode: str) -> None:
    if mode not in ("major", "minor"):
        raise ParameterError(f"mode must be 'major' or 'minor', got {mode!r}")
    if not 0 <= int(tonic) < 12:
        raise ParameterError(f"tonic must be a pitch class 0..11, got {tonic}")


def camelot(tonic: int, mode: str) -> str:
    """Camelot code of a key.

    Parameters
    ----------
    tonic : int
        Pitch class, C = 0.
    mode : str
        ``"major"`` or ``"minor"``.

    Returns
    -------
    str
        ``"1A"`` .. ``"12B"``; C major is 8B, A minor 8A.

    Raises
    ------
    ParameterError
        For a tonic outside 0..11 or an unknown mode.
    """
    _check_key(tonic, mode)
    major_tonic = int(tonic) if mode == "major" else (int(tonic) + 3) % 12
    number = (7 * major_tonic + 7) % 12 + 1
    return f"{number}{'B' if mode == 'major' else 'A'}"


def parse_camelot(code: str) -> tuple[int, str]:
    """``"8A"`` -> ``(8, "A")``.

    Raises
    ------
    ParameterError
        If ``code`` is not 1..12 followed by A or B.
    """
    text = str(code).strip().upper()
    try:
        number, letter = int(text[:-1]), text[-1]
    except (ValueError, IndexError):
        raise ParameterError(f"not a Camelot code: {code!r}") from None
    if not 1 <= number <= 12 or letter not in ("A", "B"):
        raise ParameterError(f"not a Camelot code: {code!r}")
    return number, letter


#: How one key can follow another on the Camelot wheel (:func:`camelot_relation`),
#: in the order of the indices :func:`camelot_relation_index` gives.
CAMELOT_RELATIONS = ("same", "+1", "-1", "+2", "-2", "clash", "relative")
#: The harmonically compatible relations.
COMPATIBLE_RELATIONS = ("same", "+1", "-1", "relative")
#: Each relation in a few words, as a DJ would say it (and ``"unclear"``: a pair where a key is not clear).
RELATION_WORDS = {
    "same": "same key",
    "+1": "+1",
    "-1": "-1",
    "relative": "relative",
    "+2": "+2, energy boost",
    "-2": "-2",
    "clash": "key clash",
    "unclear": "no clear key",
}


def camelot_relation(a: str, b: str) -> str:
    """How key ``b`` follows key ``a`` on the Camelot wheel.

    Parameters
    ----------
    a, b : str
        Camelot codes, e.g. ``"8A"``.

    Returns
    -------
    str
        ``"same"``; ``"+1"`` / ``"-1"`` (a fifth up / down, same letter);
        ``"relative"`` (same number, other letter) -- these four are
        harmonically compatible (:data:`COMPATIBLE_RELATIONS`); ``"+2"`` /
        ``"-2"`` (an energy boost, usable with care); ``"clash"`` otherwise.

    Raises
    ------
    ParameterError
        If a code is not a Camelot code.
    """
    return CAMELOT_RELATIONS[int(camelot_relation_index(*parse_camelot(a), *parse_camelot(b)))]


def camelot_relation_index(
    number_a: int | np.ndarray, letter_a: str | np.ndarray, number_b: int | np.ndarray, letter_b: str | np.ndarray
) -> np.ndarray:
    """:func:`camelot_relation` of parsed codes, element-wise: the rule for whole arrays of pairs.

    Parameters
    ----------
    number_a, number_b : int or np.ndarray of int
        Camelot numbers 1..12 (from :func:`parse_camelot`); broadcast together.
    letter_a, letter_b : str or np.ndarray of str
        ``"A"`` or ``"B"``, broadcast like the numbers.

    Returns
    -------
    np.ndarray of int
        Indices into :data:`CAMELOT_RELATIONS`, in the broadcast shape.
    """
    step = (np.asarray(number_b) - np.asarray(number_a)) % 12
    same_letter = np.asarray(letter_b) == np.asarray(letter_a)
    along = np.select([step == 0, step == 1, step == 11, step == 2, step == 10], [0, 1, 2, 3, 4], 5)
    return np.where(same_letter, along, np.where(step == 0, 6, 5))


def section_chroma(chroma: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted mean chroma of frames.

    Parameters
    ----------
    chroma : np.ndarray [shape=(n_frames, 12)]
    weights : np.ndarray [shape=(n_frames,)], optional
        E.g. the frames' RMS; default equal weights.

    Returns
    -------
    np.ndarray [shape=(12,)]
    """
    c = np.asarray(chroma, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 12:
        raise ParameterError(f"chroma must have shape (n_frames, 12), got {c.shape}")
    if c.shape[0] == 0:
        raise ParameterError("no chroma frames")
    w = np.ones(c.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (c.shape[0],):
        raise ParameterError(f"weights must have shape ({c.shape[0]},), got {w.shape}")
    if not np.any(w > 0):
        w = np.ones(c.shape[0])
    return (c * w[:, None]).sum(axis=0) / w.sum()


#: Below this confidence a key is "no clear key". Measured: generated drums and noise under 0.005, chord
#: progressions in all 24 keys above it, the demo's 15-s sections 0.01 (10th percentile), 0.06 (median), 0.21 (90th).
CLEAR_KEY = 0.05
#: Weight of the bass's share on a key's tonic in its score. 0.2 turns natural-minor loops with the
#: tonic in the bass to minor (tests/test_tonal.py) and keeps the shift bench's accuracy (bench/key.py).
BASS_WEIGHT = 0.2
#: The share of a stretch at each end whose bass counts (1 + EDGE_EMPHASIS) times: where a
#: phrase opens and closes, on its tonic more often than not.
EDGE_SHARE, EDGE_EMPHASIS = 0.1, 2.0
#: The score margin over the runner-up at and above which the margin no longer lowers the confidence.
#: At 0.2, 97 % of the confident pairs of shifted demo clips moved exactly with the shift (0.1: 94 %).
FULL_MARGIN = 0.2
_PEAK_FLOOR = 0.3  # a frame's peakedness (1 - mean) at which it starts to count as tonal


def tonal_chroma(chroma: np.ndarray, rms: np.ndarray) -> tuple[np.ndarray, float]:
    """The tonal evidence of chroma frames: a 12-bin profile and how much of the level is tonal.

    Parameters
    ----------
    chroma : np.ndarray [shape=(n_frames, 12)]
        Stored chroma frames (each with a maximum of 1).
    rms : np.ndarray [shape=(n_frames,)]
        The frames' RMS level.

    Returns
    -------
    profile : np.ndarray [shape=(12,)]
        Weighted mean of each frame's bins above its median (all zero when no frame is tonal).
    clarity : float
        0..1: the share of the level in tonal frames, each counted by how peaked it is.

    Raises
    ------
    ParameterError
        For wrong shapes or no frames.
    """
    c = np.asarray(chroma, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 12:
        raise ParameterError(f"chroma must have shape (n_frames, 12), got {c.shape}")
    if c.shape[0] == 0:
        raise ParameterError("no chroma frames")
    level = np.asarray(rms, dtype=np.float64)
    if level.shape != (c.shape[0],):
        raise ParameterError(f"rms must have shape ({c.shape[0]},), got {level.shape}")
    c = np.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0)
    level = np.clip(np.nan_to_num(level, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
    above = np.maximum(c - np.median(c, axis=1, keepdims=True), 0.0)
    peaked = np.maximum((1.0 - c.mean(axis=1)) - _PEAK_FLOOR, 0.0)
    w = level * peaked
    total = float(level.sum())
    if w.sum() <= 0 or total <= 0:
        return np.zeros(12), 0.0
    clarity = float(np.clip(w.sum() / (total * (1.0 - _PEAK_FLOOR)), 0.0, 1.0))
    return (above * w[:, None]).sum(axis=0) / w.sum(), clarity


def bass_profile(bass: np.ndarray, rms: np.ndarray) -> np.ndarray:
    """Which pitch classes the bass plays: the share of each bin, frames weighted by level.

    Parameters
    ----------
    bass : np.ndarray [shape=(n_frames, 12)]
        Stored ``bass_*`` frames (each with a maximum of 1, or all zero).
    rms : np.ndarray [shape=(n_frames,)]

    Returns
    -------
    np.ndarray [shape=(12,)]
        Non-negative, summing to 1 (all zero when the bass range is silent).
    """
    b = np.asarray(bass, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 12:
        raise ParameterError(f"bass chroma must have shape (n_frames, 12), got {b.shape}")
    level = np.clip(np.nan_to_num(np.asarray(rms, dtype=np.float64)), 0.0, None)
    if level.shape != (b.shape[0],):
        raise ParameterError(f"rms must have shape ({b.shape[0]},), got {level.shape}")
    edge = max(1, int(round(EDGE_SHARE * b.shape[0])))
    level = level.copy()
    level[:edge] *= 1.0 + EDGE_EMPHASIS  # music tends to open and close on its tonic
    level[-edge:] *= 1.0 + EDGE_EMPHASIS
    total = np.clip(np.nan_to_num(b), 0.0, None).T @ level
    return total / total.sum() if total.sum() > 0 else np.zeros(12)


def _profile_matrix(profile: str) -> np.ndarray:
    """[24, 12] z-scored rotated profiles: rows 0..11 major on C..B, 12..23 minor."""
    try:
        major, minor = PROFILES[profile]
    except KeyError:
        raise ParameterError(f"unknown key profile {profile!r}; choose one of {sorted(PROFILES)}") from None
    rows = [np.roll(np.asarray(p, dtype=np.float64), t) for p in (major, minor) for t in range(12)]
    m = np.vstack(rows)
    m -= m.mean(axis=1, keepdims=True)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def estimate_key(chroma: np.ndarray, *, profile: str = "krumhansl", clarity: float = 1.0, bass: np.ndarray | None = None) -> Key:
    """The key whose profile correlates best with a 12-bin chroma vector, the bass settling its tonic.

    Parameters
    ----------
    chroma : np.ndarray [shape=(12,)]
        Pitch-class energy, C first (see :func:`tonal_chroma`, :func:`section_chroma`).
    profile : str
        One of :data:`PROFILES`.
    clarity : float
        0..1, how tonal the stretch is (:func:`tonal_chroma`); scales the confidence.
    bass : np.ndarray [shape=(12,)], optional
        The bass's share per pitch class (:func:`bass_profile`); each key's
        score gains :data:`BASS_WEIGHT` times the share on its tonic. Without
        it, the correlation alone decides.

    Returns
    -------
    Key
        ``strength`` is the key's correlation, ``margin`` its score's lead over
        the runner-up (relative), ``confidence`` strength x clarity x
        ``min(1, margin / FULL_MARGIN)``.

    Raises
    ------
    ParameterError
        For a wrong shape, non-finite values or an unknown profile.
    """
    c = np.asarray(chroma, dtype=np.float64)
    if c.shape != (12,) or not np.all(np.isfinite(c)):
        raise ParameterError(f"chroma must be 12 finite values, got shape {c.shape}")
    b = np.zeros(12) if bass is None else np.asarray(bass, dtype=np.float64)
    if b.shape != (12,) or not np.all(np.isfinite(b)):
        raise ParameterError(f"bass must be 12 finite values, got shape {b.shape}")
    m = _profile_matrix(profile)
    x = c - c.mean()
    norm = np.linalg.norm(x)
    if norm == 0:
        return Key(tonic=0, mode="major", strength=0.0, confidence=0.0, profile=profile, clarity=0.0, margin=0.0)
    r = m @ (x / norm)
    score = r + BASS_WEIGHT * np.concatenate([b, b])
    order = np.argsort(-score, kind="stable")
    best, second = float(score[order[0]]), float(score[order[1]])
    clarity = float(np.clip(clarity, 0.0, 1.0))
    margin = float(np.clip((best - second) / best, 0.0, 1.0)) if best > 0 else 0.0
    i = int(order[0])
    strength = float(r[i])
    confidence = max(strength, 0.0) * clarity * min(1.0, margin / FULL_MARGIN)
    return Key(tonic=i % 12, mode="major" if i < 12 else "minor", strength=strength, confidence=confidence,
               profile=profile, clarity=clarity, margin=margin)  # fmt: skip
