"""Tags that describe clusters: which of a network's tags set each cluster apart, in plain words.

numpy only, so a page that describes clusters from stored tag probabilities
never loads torch (:mod:`engine.neural.embed` re-exports both functions).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ParameterError

__all__ = ["cluster_tags", "describe_clusters"]


def _tag_key(name: str) -> str:
    key = name.lower().strip()
    return key[:-1] if key.endswith("s") and not key.endswith("ss") and not key[-2:-1].isdigit() else key


def cluster_tags(
    tags: np.ndarray, tag_names: Sequence[str], labels: np.ndarray, *, top: int = 3
) -> dict[int, list[tuple[str, float, float]]]:
    """The tags that set each cluster apart, with numbers.

    A tag's score in a cluster is its mean probability over the members
    minus its mean over all rows, so tags every piece gets (musicnn's MSD
    model says "rock" of most things) do not describe every cluster. With a
    single cluster the score is the mean itself. Tags that differ only by a
    plural ("female vocalist"/"female vocalists") count once, under the
    higher-scoring name.

    Parameters
    ----------
    tags : np.ndarray [shape=(n, n_tags)]
        Tag probabilities per row (pieces or sections).
    tag_names : sequence of str [length n_tags]
    labels : np.ndarray [shape=(n,)]
        Cluster label per row (any ints; -1 for noise is described too).
    top : int
        Tags per cluster.

    Returns
    -------
    dict int -> list of (tag, cluster mean, score)
        Best first, at most ``top``; tags with a positive score come first,
        the rest only fill up when fewer than ``top`` are positive.

    Raises
    ------
    ParameterError
        If the shapes disagree or ``top < 1``.
    """
    tags = np.asarray(tags, dtype=np.float64)
    labels = np.asarray(labels)
    if tags.ndim != 2 or tags.shape[1] != len(tag_names) or labels.shape != (tags.shape[0],):
        raise ParameterError(f"tags {tags.shape}, {len(tag_names)} tag names and labels {labels.shape} disagree")
    if top < 1:
        raise ParameterError(f"top must be >= 1, got {top}")
    overall = tags.mean(axis=0) if tags.size else np.zeros(len(tag_names))
    clusters = np.unique(labels)
    result: dict[int, list[tuple[str, float, float]]] = {}
    for label in clusters:
        mean = tags[labels == label].mean(axis=0)
        score = mean - overall if clusters.size > 1 else mean
        order = np.lexsort((-mean, -score))  # by score, then by mean
        picked: list[tuple[str, float, float]] = []
        seen: set[str] = set()
        for positive_pass in (True, False):
            for i in order:
                if len(picked) == top:
                    break
                key = _tag_key(tag_names[i])
                if key in seen or (positive_pass and score[i] <= 0):
                    continue
                seen.add(key)
                picked.append((str(tag_names[i]), float(mean[i]), float(score[i])))
        result[int(label)] = picked
    return result


def _words(names: list[str]) -> str:
    names = [n if n.isupper() else n.lower() for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def describe_clusters(
    tags: np.ndarray, tag_names: Sequence[str], labels: np.ndarray, *, top: int = 3
) -> dict[int, str]:
    """A plain-words description of each cluster from its members' tags.

    Parameters
    ----------
    tags, tag_names, labels, top
        As :func:`cluster_tags`.

    Returns
    -------
    dict int -> str
        E.g. ``{0: "more electronic, dance and house than the rest", ...}``;
        with one cluster, ``"mostly rock, pop and indie"``.

    Raises
    ------
    ParameterError
        As :func:`cluster_tags`.
    """
    ranked = cluster_tags(tags, tag_names, labels, top=top)
    single = len(ranked) == 1
    out: dict[int, str] = {}
    for label, picked in ranked.items():
        positive = [name for name, _, score in picked if score > 0]
        if single:
            out[label] = f"mostly {_words([name for name, _, _ in picked])}"
        elif positive:
            out[label] = f"more {_words(positive)} than the rest"
        else:
            out[label] = f"nothing stands out; mostly {_words([name for name, _, _ in picked])}"
    return out
