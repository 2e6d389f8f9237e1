"""Choose the representative sections of each track.

Rules (:class:`~engine.config.SelectConfig`):

``all``
    Every section.
``energy``
    The loudest ``fraction`` of each track's sections by RMS (at least one) --
    what the thesis's text says it did.
``thesis``
    What the thesis's code really did, per song: min-max scale RMS and
    spectral centroid within the song, ``ratio = centroid_norm / rms_norm``,
    rank the ratio descending (ties share their average rank; ``x/0`` is
    ``inf`` and ranks first; ``0/0`` is NaN, gets no rank and does not count),
    and keep the sections whose rank is ``<= fraction x`` the number of ranked
    sections. It keeps bright, relatively *quiet* sections, not loud ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import SelectConfig
from ..errors import ParameterError

__all__ = ["select_sections", "thesis_ratio"]


def thesis_ratio(rms: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    """The thesis's ``centroid_norm / rms_norm`` within one song.

    Parameters
    ----------
    rms, centroid : np.ndarray [shape=(n_sections,)]
        Per-section RMS and spectral centroid of one song.

    Returns
    -------
    np.ndarray [shape=(n_sections,)]
        float64; ``inf`` where only RMS is at its minimum, NaN where both are.
    """
    rms_n = _minmax(np.asarray(rms, float))
    cen_n = _minmax(np.asarray(centroid, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return cen_n / rms_n


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min() if x.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x - x.min()) / span


def select_sections(rms: np.ndarray, centroid: np.ndarray, *, config: SelectConfig) -> np.ndarray:
    """Mark the representative sections of one track.

    Parameters
    ----------
    rms : np.ndarray [shape=(n_sections,)]
        Per-section RMS (the ``rmse`` feature).
    centroid : np.ndarray [shape=(n_sections,)]
        Per-section spectral centroid (used by the ``thesis`` rule only).
    config : SelectConfig
        The rule and the fraction.

    Returns
    -------
    np.ndarray [shape=(n_sections,)]
        bool, True for a representative section.

    Raises
    ------
    ParameterError
        If the two arrays differ in length.
    """
    rms = np.asarray(rms, float)
    centroid = np.asarray(centroid, float)
    if rms.shape != centroid.shape or rms.ndim != 1:
        raise ParameterError(f"rms and centroid must be 1-D of one length, got {rms.shape} and {centroid.shape}")
    n = rms.shape[0]
    if config.rule == "all" or n == 0:
        return np.ones(n, dtype=bool)
    if config.rule == "energy":
        keep = max(1, int(np.ceil(config.fraction * n)))
        order = np.argsort(-rms, kind="stable")  # loudest first; ties keep section order
        mask = np.zeros(n, dtype=bool)
        mask[order[:keep]] = True
        return mask
    ratio = pd.Series(thesis_ratio(rms, centroid))
    rank = ratio.rank(ascending=False, method="average")  # NaN stays NaN
    return (rank <= config.fraction * ratio.count()).to_numpy()
