"""What counts as one song when an evaluation holds songs out.

An honest evaluation (the surrogate's fidelity in :mod:`engine.analysis.explain`, the
KNN on reviewers' labels in :func:`engine.analysis.compare.knn_evaluate`) never lets
sections of one song sit in both training and test data. Two versions of a
piece (a remaster, a remix, a "revisited" take) sound alike too, so they are
one song for this purpose.

Groups are given as a mapping ``track_id -> song`` (:func:`song_groups`);
a track the mapping does not name is a song of its own. A library folder can
say which of its files are versions of one piece in a ``MANIFEST.tsv`` with
``file`` and ``version_group`` columns, as the bundled demo does
(:func:`version_groups` reads it beside each track).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import ParameterError

__all__ = ["MANIFEST_NAME", "read_manifest", "version_groups", "song_groups"]

#: The file beside a library's tracks that may say which are versions of one piece.
MANIFEST_NAME = "MANIFEST.tsv"


def read_manifest(path: str | os.PathLike) -> dict[str, str]:
    """The version groups a ``MANIFEST.tsv`` declares, by file name.

    Parameters
    ----------
    path : str or os.PathLike
        A tab-separated file with a header naming ``file`` and ``version_group``.

    Returns
    -------
    dict of str to str
        File name (as written in the ``file`` column) to its version group,
        for every row whose ``version_group`` is not blank.

    Raises
    ------
    ParameterError
        If the file cannot be read or lacks either column.
    """
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            fields = reader.fieldnames or []
            if "file" not in fields or "version_group" not in fields:
                raise ParameterError(f"{path} needs 'file' and 'version_group' columns, has {fields}")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ParameterError(f"cannot read the manifest {path} ({exc})") from exc
    return {
        str(r["file"]).strip(): str(r["version_group"]).strip()
        for r in rows
        if r.get("file") and r.get("version_group") and str(r["version_group"]).strip()
    }


def version_groups(paths: Mapping[str, str]) -> dict[str, str]:
    """Version groups of tracks, from the ``MANIFEST.tsv`` beside each track's file.

    Parameters
    ----------
    paths : mapping of str to str
        ``track_id`` to the local path of its file ("" when unknown).

    Returns
    -------
    dict of str to str
        ``track_id`` to its version group, for the tracks a manifest names;
        the others are left out (each is a song of its own). Folders without
        a manifest, and remote or unknown paths, name none.

    Raises
    ------
    ParameterError
        If a manifest exists but cannot be read.
    """
    manifests: dict[Path, dict[str, str]] = {}
    out: dict[str, str] = {}
    for track_id, path in paths.items():
        if not path:
            continue
        file = Path(path)
        folder = file.parent
        if folder not in manifests:
            manifest = folder / MANIFEST_NAME
            manifests[folder] = read_manifest(manifest) if manifest.is_file() else {}
        group = manifests[folder].get(file.name)
        if group:
            out[str(track_id)] = f"version:{group}"
    return out


def song_groups(meta: pd.DataFrame, versions: Mapping[str, str] | None = None) -> np.ndarray:
    """One song id per section row: its version group, else its own track.

    Parameters
    ----------
    meta : pandas.DataFrame [shape=(n_rows, ...)]
        Section metadata with a ``track_id`` column.
    versions : mapping of str to str, optional
        ``track_id`` to song (e.g. from :func:`version_groups`); tracks it
        does not name are songs of their own. None: every track is its own song.

    Returns
    -------
    np.ndarray [shape=(n_rows,)], object
        A string per row; rows with equal strings are one song.

    Raises
    ------
    ParameterError
        If ``meta`` has no ``track_id`` column.
    """
    if "track_id" not in meta.columns:
        raise ParameterError(f"section metadata needs a 'track_id' column to group songs; it has {list(meta.columns)}")
    versions = {} if versions is None else {str(k): str(v) for k, v in versions.items()}
    tracks = meta["track_id"].astype(str).to_numpy()
    return np.array([versions.get(t, f"track:{t}") for t in tracks], dtype=object)
