"""``python -m engine``: the command line over every stage.

Takes arguments. Gives files in a store or exports, a report on stdout (text or
``--json``) and an exit code (:mod:`.main`; the analysis and mixing subcommands
are in :mod:`.analysis` and :mod:`.mix`).

Names defined in more than one module (``register``) are
reached through their module.

A function named like its module (``main.main``) is
reached through the module: once the module is imported, the package attribute is the module.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "analysis": (
        "cluster_config_from_args",
    ),
    "main": (
        "build_parser", "default_store_dir", "store_options",
    ),
    "mix": (
        "mix_config_from_args", "parse_section_ref",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
