"""Export sections and results: XSPF/M3U playlists, Embedding Projector TSVs, CSV and Parquet.

Every export carries the config digest that made it and, when it is known,
the digest of the section table (the analysis) the rows came from. For a
clustering the config digest already covers its data (see
:func:`engine.analysis.cluster.clustering_digest`); the table digest says which
analysis -- section length, aggregation, the library -- that was:

* XSPF -- an ``<annotation>`` naming both, a ``<meta rel="urn:cratemap:config-digest">``
  and a ``<meta rel="urn:cratemap:table-digest">``;
* M3U -- ``#CRATEMAP:config-digest=...`` and ``#CRATEMAP:table-digest=...``
  lines (players skip unknown ``#`` lines);
* Projector metadata TSV, CSV, Parquet -- ``config_digest`` and
  ``table_digest`` columns (and, for Parquet, the ``cratemap.config_digest``
  and ``cratemap.table_digest`` schema metadata keys). The Projector
  *vectors* file must hold numbers only; its metadata file carries the digests.

Where the table digest comes from: a :class:`SectionTable` is its own table;
a :class:`ClusterResult` knows the table it clustered; a DataFrame may carry
``attrs["table_digest"]`` (:func:`cluster_sections` sets it); any writer
takes ``table_digest=`` explicitly.

Playlists play only each section: XSPF entries carry VLC's ``start-time`` and
``stop-time`` options in VLC's extension, M3U entries ``#EXTVLCOPT`` lines.
Locations: a ``path`` column when the table has one (the store knows where
each file was read from), else ``base_dir / name``, else the bare name as a
relative URI (VLC resolves it against the playlist's folder). An entry's
title names the section's phrase label and its confidence where the sections
carry them (``tune - section 3 (45.0-60.0 s) · drop 0.82``); CSV and Parquet
tables carry them as the ``phrase_label`` and ``phrase_confidence`` columns.
"""

from __future__ import annotations

import math
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from ..describe.phrases import phrase_text
from ..errors import ParameterError
from ..records import ClusterResult, Neighbours, Prepared, SectionTable

__all__ = [
    "PLAYLIST_FORMATS",
    "TABLE_FORMATS",
    "DIGEST_KEY",
    "TABLE_DIGEST_KEY",
    "cluster_sections",
    "write_xspf",
    "write_m3u",
    "write_playlist",
    "write_projector",
    "write_table",
]

PLAYLIST_FORMATS = ("xspf", "m3u")
TABLE_FORMATS = ("csv", "parquet")
#: Where the digest goes in Parquet schema metadata and XSPF ``meta``.
DIGEST_KEY = "cratemap.config_digest"
#: Where the section table's (the analysis's) digest goes in Parquet schema metadata.
TABLE_DIGEST_KEY = "cratemap.table_digest"

_XSPF_NS = "http://xspf.org/ns/0/"
_VLC_NS = "http://www.videolan.org/vlc/playlist/ns/0/"
_VLC_APP = "http://www.videolan.org/vlc/playlist/0"
_DIGEST_REL = "urn:cratemap:config-digest"
_TABLE_DIGEST_REL = "urn:cratemap:table-digest"


def cluster_sections(result: ClusterResult, cluster: int) -> pd.DataFrame:
    """The metadata of one cluster's sections, ready for a playlist.

    Parameters
    ----------
    result : ClusterResult
    cluster : int
        A cluster id (``-1`` for HDBSCAN noise).

    Returns
    -------
    pandas.DataFrame
        The members' meta rows, typical first (by euclidean distance to the
        centroid in the scaled space), with ``cluster`` and ``row`` (position
        in the clustering's rows) columns and ``attrs["config_digest"]``
        (the clustering's) and ``attrs["table_digest"]`` (its section table's) set.

    Raises
    ------
    ParameterError
        If the cluster does not exist.
    """
    if not isinstance(result, ClusterResult):
        raise ParameterError(f"expected a ClusterResult, got {type(result).__name__}")
    if cluster != -1 and not 0 <= cluster < result.k:
        raise ParameterError(f"no cluster {cluster}; clusters are 0..{result.k - 1}")
    idx = np.flatnonzero(result.labels == cluster)
    if len(idx) == 0:
        raise ParameterError(f"cluster {cluster} has no sections")
    if cluster >= 0:
        d = np.linalg.norm(result.data.X[idx] - result.centroids[cluster], axis=1)
        idx = idx[np.argsort(d, kind="stable")]
    frame = result.data.meta.iloc[idx].reset_index(drop=True)
    frame["cluster"] = cluster
    frame["row"] = idx  # position in the clustering's rows
    frame.attrs["config_digest"] = result.config_digest
    frame.attrs["table_digest"] = result.table_digest
    return frame


def _sections_and_digest(sections, config_digest: str | None, table_digest: str | None = None) -> tuple[pd.DataFrame, str, str]:
    if isinstance(sections, Neighbours):
        frame, digest, source = sections.meta, sections.config_digest, sections.meta.attrs.get("table_digest", "")
    elif isinstance(sections, SectionTable):
        frame, digest, source = sections.meta, sections.config_digest, sections.config_digest
    elif isinstance(sections, pd.DataFrame):
        frame, digest, source = sections, sections.attrs.get("config_digest", ""), sections.attrs.get("table_digest", "")
    else:
        raise ParameterError(f"cannot make a playlist of {type(sections).__name__}; give a DataFrame of sections")
    digest, source = _provenance(digest, source, config_digest=config_digest, table_digest=table_digest)
    missing = [c for c in ("name", "start_s", "end_s") if c not in frame.columns]
    if missing:
        raise ParameterError(f"sections lack columns {missing}")
    if len(frame) == 0:
        raise ParameterError("no sections to export")
    times = frame[["start_s", "end_s"]].to_numpy(np.float64)
    if not np.all(np.isfinite(times)):
        raise ParameterError(
            "section times are unknown for some sections (a table from elsewhere?); "
            "give the table start_s/end_s columns, or a section length "
            "(command line: --section-seconds 15; Python: load_table(..., section_seconds=15))"
        )
    if np.any(times[:, 1] <= times[:, 0]):
        raise ParameterError("a section ends before it starts")
    return frame, digest, source


def _provenance(digest, source, *, config_digest: str | None, table_digest: str | None) -> tuple[str, str]:
    """The config and table digests an export writes: those given win over those the data carries.

    Raises
    ------
    ParameterError
        If no config digest is known.
    """
    digest = config_digest or digest
    if not digest:
        raise ParameterError("every export carries a config digest; pass config_digest=")
    return str(digest), str(table_digest or source or "")


def _write(path, write) -> Path:
    """Call ``write(out)`` on the file ``path``; an OSError becomes a ParameterError naming the file."""
    out = Path(path)
    try:
        write(out)
    except OSError as exc:
        raise ParameterError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from exc
    return out


def _format(path, format: str | None, *, aliases: dict[str, str]) -> str:
    """The format asked for, else the file's suffix, lower case, with ``aliases`` resolved."""
    fmt = (format or Path(path).suffix.lstrip(".")).lower()
    return aliases.get(fmt, fmt)


def _location(row: pd.Series, base_dir: Path | None, *, uri: bool) -> str:
    path = str(row["path"]) if "path" in row.index and isinstance(row["path"], str) and row["path"] else ""
    if path:
        p = Path(path)
    elif base_dir is not None:
        p = Path(base_dir) / str(row["name"])
    else:
        name = str(row["name"])
        return urllib.parse.quote(name.replace("\\", "/")) if uri else name
    p = p if p.is_absolute() else p.resolve()
    return p.as_uri() if uri else str(p)


def _t(seconds: float) -> str:
    """Seconds for a VLC option: millisecond precision, always with a decimal point."""
    return repr(round(float(seconds), 3))


def _title(row: pd.Series) -> str:
    """``tune - section 3 (45.0-60.0 s)``, and `` · drop 0.82`` where the section's phrase label is known."""
    phrase = phrase_text(row.get("phrase_label"), row.get("phrase_confidence"))
    title = f"{Path(str(row['name'])).stem} - section {int(row['section'])} ({_t(row['start_s'])}-{_t(row['end_s'])} s)"
    return f"{title} · {phrase}" if phrase else title


def write_xspf(
    sections, path, *, config_digest: str | None = None, table_digest: str | None = None, title: str = "CrateMap", base_dir=None
) -> Path:
    """Write an XSPF playlist in which each entry plays only its section in VLC.

    Parameters
    ----------
    sections : pandas.DataFrame or Neighbours or SectionTable
        Rows with ``name``, ``section``, ``start_s``, ``end_s`` (and
        optionally ``path``), e.g. :func:`cluster_sections` or a neighbour list.
    path : str or Path
        The file to write.
    config_digest : str, optional
        Provenance; default: the one the sections carry.
    table_digest : str, optional
        The section table's (the analysis's) digest; default: the one the
        sections carry, if any.
    title : str
    base_dir : str or Path, optional
        Folder the names are relative to.

    Returns
    -------
    Path

    Raises
    ------
    ParameterError
        If section times are unknown, no digest is known, or the file cannot be written.
    """
    frame, digest, source = _sections_and_digest(sections, config_digest, table_digest)
    ET.register_namespace("", _XSPF_NS)
    ET.register_namespace("vlc", _VLC_NS)
    q = lambda tag: f"{{{_XSPF_NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("playlist"), {"version": "1"})
    ET.SubElement(root, q("title")).text = title
    note = f"CrateMap export; config digest {digest}" + (f"; section table digest {source}" if source else "")
    ET.SubElement(root, q("annotation")).text = note
    ET.SubElement(root, q("meta"), {"rel": _DIGEST_REL}).text = digest
    if source:
        ET.SubElement(root, q("meta"), {"rel": _TABLE_DIGEST_REL}).text = source
    tracks = ET.SubElement(root, q("trackList"))
    for i, (_, row) in enumerate(frame.iterrows()):
        track = ET.SubElement(tracks, q("track"))
        ET.SubElement(track, q("location")).text = _location(row, base_dir, uri=True)
        ET.SubElement(track, q("title")).text = _title(row)
        ET.SubElement(track, q("duration")).text = str(int(round((row["end_s"] - row["start_s"]) * 1000)))
        ext = ET.SubElement(track, q("extension"), {"application": _VLC_APP})
        ET.SubElement(ext, f"{{{_VLC_NS}}}id").text = str(i)
        ET.SubElement(ext, f"{{{_VLC_NS}}}option").text = f"start-time={_t(row['start_s'])}"
        ET.SubElement(ext, f"{{{_VLC_NS}}}option").text = f"stop-time={_t(row['end_s'])}"
    ET.indent(root, space="\t")
    return _write(path, lambda out: out.write_bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"))


def write_m3u(
    sections, path, *, config_digest: str | None = None, table_digest: str | None = None, title: str = "CrateMap", base_dir=None
) -> Path:
    """Write an extended M3U playlist with VLC start/stop options per section.

    Parameters and errors as :func:`write_xspf`. Locations are plain paths
    (or names relative to the playlist's folder).

    Returns
    -------
    Path
    """
    frame, digest, source = _sections_and_digest(sections, config_digest, table_digest)
    lines = ["#EXTM3U", f"#PLAYLIST:{title}", f"#CRATEMAP:config-digest={digest}"]
    if source:
        lines.append(f"#CRATEMAP:table-digest={source}")
    for _, row in frame.iterrows():
        seconds = int(math.ceil(row["end_s"] - row["start_s"]))
        lines.append(f"#EXTINF:{seconds},{_title(row)}")
        lines.append(f"#EXTVLCOPT:start-time={_t(row['start_s'])}")
        lines.append(f"#EXTVLCOPT:stop-time={_t(row['end_s'])}")
        lines.append(_location(row, base_dir, uri=False))
    return _write(path, lambda out: out.write_text("\n".join(lines) + "\n", encoding="utf-8"))


def write_playlist(sections, path, *, format: str | None = None, **options) -> Path:
    """Write an XSPF or M3U playlist, the format from ``format`` or the file suffix.

    Raises
    ------
    ParameterError
        For an unknown format.
    """
    fmt = _format(path, format, aliases={"m3u8": "m3u"})
    if fmt == "xspf":
        return write_xspf(sections, path, **options)
    if fmt == "m3u":
        return write_m3u(sections, path, **options)
    raise ParameterError(f"unknown playlist format {fmt!r}; choose one of {list(PLAYLIST_FORMATS)}")


def _clean(value) -> str:
    return " ".join(str(value).replace("\t", " ").split())


def write_projector(
    data,
    vectors_path,
    metadata_path=None,
    *,
    meta: pd.DataFrame | None = None,
    config_digest: str | None = None,
    table_digest: str | None = None,
) -> tuple[Path, Path]:
    """Write TensorFlow Embedding Projector TSVs: one of vectors, one of metadata.

    Parameters
    ----------
    data : SectionTable or ClusterResult or Prepared or np.ndarray [shape=(n, d)]
        Features (a table: original units), a clustering (its scaled rows,
        plus a ``cluster`` metadata column) or any embedding matrix.
    vectors_path : str or Path
        Numbers only, tab-separated, no header.
    metadata_path : str or Path, optional
        Default: ``<vectors stem>_metadata.tsv`` beside it. Header row, then
        one row per vector; a ``config_digest`` column carries provenance.
    meta : pandas.DataFrame, optional
        Metadata for an array input.
    config_digest : str, optional
        Needed for an array input.
    table_digest : str, optional
        The section table's digest, written as a ``table_digest`` column;
        default: the one ``data`` (or ``meta.attrs``) carries, if any.

    Returns
    -------
    (Path, Path)

    Raises
    ------
    ParameterError
        If shapes disagree, values are not finite or no digest is known.
    """
    if isinstance(data, SectionTable):
        values, frame, digest, source = data.values, data.meta.copy(), data.config_digest, data.config_digest
    elif isinstance(data, ClusterResult):
        values, frame, digest, source = data.data.X, data.data.meta.copy(), data.config_digest, data.table_digest
        frame["cluster"] = data.labels
    elif isinstance(data, Prepared):
        values, frame, digest, source = data.X, data.meta.copy(), "", data.table_digest
    else:
        try:
            values = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"cannot export {type(data).__name__} as vectors: {exc}") from exc
        frame, digest = (meta.copy() if meta is not None else pd.DataFrame({"row": np.arange(len(values))})), ""
        source = str(meta.attrs.get("table_digest", "")) if meta is not None else ""
    digest, source = _provenance(digest, source, config_digest=config_digest, table_digest=table_digest)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(frame):
        raise ParameterError(f"vectors {values.shape} and metadata ({len(frame)} rows) disagree")
    if not np.all(np.isfinite(values)):
        raise ParameterError("vectors hold NaN or infinite values")
    vectors_path = Path(vectors_path)
    metadata_path = Path(metadata_path) if metadata_path else vectors_path.with_name(vectors_path.stem + "_metadata.tsv")
    keep = [c for c in frame.columns if c not in ("track_id",)]
    frame = frame[keep].copy()
    frame["config_digest"] = digest
    if source:
        frame["table_digest"] = source
    try:
        np.savetxt(vectors_path, values, delimiter="\t", fmt="%.7g")
        with metadata_path.open("w", encoding="utf-8") as fh:
            fh.write("\t".join(_clean(c) for c in frame.columns) + "\n")
            for row in frame.itertuples(index=False):
                fh.write("\t".join(_clean(v) for v in row) + "\n")
    except OSError as exc:
        raise ParameterError(f"cannot write projector files: {exc.strerror or exc}") from exc
    return vectors_path, metadata_path


def _table_frame(data) -> tuple[pd.DataFrame, str, str]:
    if isinstance(data, ClusterResult):
        frame = data.assignments()
        feats = pd.DataFrame(data.data.raw, columns=list(data.data.names))
        return pd.concat([frame, feats], axis=1), data.config_digest, data.table_digest
    if isinstance(data, SectionTable):
        return data.to_frame(), data.config_digest, data.config_digest
    if isinstance(data, pd.DataFrame):
        return data.copy(), str(data.attrs.get("config_digest", "")), str(data.attrs.get("table_digest", ""))
    raise ParameterError(f"cannot export {type(data).__name__} as a table")


def write_table(data, path, *, format: str | None = None, config_digest: str | None = None, table_digest: str | None = None) -> Path:
    """Write features or assignments as CSV or Parquet.

    Parameters
    ----------
    data : SectionTable or ClusterResult or pandas.DataFrame
        A table (meta and features), a clustering (meta, ``cluster``,
        memberships for fcm, and the features in original units) or a frame.
    path : str or Path
    format : {"csv", "parquet"}, optional
        Default: from the suffix.
    config_digest : str, optional
        Default: the one the data carries.
    table_digest : str, optional
        The section table's digest (a ``table_digest`` column and Parquet
        metadata key); default: the one the data carries, if any.

    Returns
    -------
    Path

    Raises
    ------
    ParameterError
        For an unknown format, a missing digest or an unwritable file.
    """
    frame, digest, source = _table_frame(data)
    digest, source = _provenance(digest, source, config_digest=config_digest, table_digest=table_digest)
    fmt = _format(path, format, aliases={"pq": "parquet"})
    if fmt not in TABLE_FORMATS:
        raise ParameterError(f"unknown table format {fmt!r}; choose one of {list(TABLE_FORMATS)}")
    frame["config_digest"] = digest
    if source:
        frame["table_digest"] = source
    if fmt == "csv":
        return _write(path, lambda out: frame.to_csv(out, index=False))
    return _write(path, lambda out: _write_parquet(frame, out, digest=digest, source=source))


def _write_parquet(frame: pd.DataFrame, out: Path, *, digest: str, source: str) -> None:
    """``frame`` as Parquet, the digests in its schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[DIGEST_KEY.encode()] = digest.encode()
    if source:
        md[TABLE_DIGEST_KEY.encode()] = source.encode()
    pq.write_table(table.replace_schema_metadata(md), out)
