"""Keeping results: the store, section tables, reviews and exports.

Takes per-track frames, sections and pieces. Keeps them as Parquet keyed by
track and config digest in a folder or at any fsspec URL (:mod:`.core`; local
paths versus URLs and storage options: :mod:`.urls`). Gives
section tables to the analysis stage from a store, CSV, Parquet or DataFrame
(:mod:`.tables`), experts' reviews and the results a user saved, kept in SQLite or PostgreSQL (:mod:`.reviews`,
:mod:`.saved`), and exports:
playlists, Embedding Projector TSVs, CSV and Parquet (:mod:`.export`), with file locations
written as rekordbox and Traktor write them (:mod:`.locations`), and DJ collections read from and
written into rekordbox XML (:mod:`.rekordbox`) and Traktor NML (:mod:`.traktor`). A store can be seeded
with results computed elsewhere, as the demo's shipped analysis (:mod:`.seed`).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "core": (
        "Store", "open_store", "pieces_key", "config_from_dict",
    ),
    "export": (
        "PLAYLIST_FORMATS", "TABLE_FORMATS", "DIGEST_KEY", "TABLE_DIGEST_KEY", "cluster_sections",
        "write_xspf", "write_m3u", "write_playlist", "write_projector", "write_table",
    ),
    "locations": (
        "MAC_SYSTEM_VOLUME", "path_to_rekordbox", "rekordbox_to_path", "path_to_traktor", "traktor_to_path",
        "native_path", "under_root",
    ),
    "rekordbox": (
        "FOLDER", "CUE_PREFIX", "read_rekordbox", "write_rekordbox",
    ),
    "reviews": (
        "VERDICTS", "SCHEMA_VERSION", "ReviewStore", "agreement_table",
    ),
    "saved": (
        "SavedResults",
    ),
    "seed": (
        "seed_store",
    ),
    "tables": (
        "TableLike", "LABEL_COLUMNS", "DROPPED_COLUMNS", "load_table", "table_from_frame",
        "parse_section",
    ),
    "traktor": (
        "TRAKTOR_KEYS", "read_traktor", "write_traktor",
    ),
    "urls": (
        "is_remote_url", "parse_storage_options", "env_storage_options",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
