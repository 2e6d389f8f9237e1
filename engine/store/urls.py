"""Where a store (or an input) lies: local paths versus fsspec URLs, and fsspec storage options.

A store or an input may be a local path (``file://`` and ``local://`` URLs
included) or any other fsspec URL (``s3://``, ``gs://``, ``memory://`` ...);
storage options (credentials, an endpoint) come as a JSON object, from the
command line, the app or ``$CRATEMAP_STORE_OPTIONS``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import ParameterError

__all__ = ["is_remote_url", "parse_storage_options", "env_storage_options"]


def is_remote_url(text: str) -> bool:
    """Is ``text`` an fsspec URL of a non-local filesystem (``s3://``, ``memory://``...), not a path or ``file://``?"""
    return "://" in text and not (text.startswith("file://") or text.startswith("local://"))


def parse_storage_options(text: str, *, what: str = "storage options") -> dict[str, Any]:
    """fsspec storage options from a JSON object's text (empty text: none).

    Raises
    ------
    ParameterError
        If the text is not a JSON object; the message names ``what``.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ParameterError(f"{what} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ParameterError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def env_storage_options() -> dict[str, Any]:
    """fsspec options for store URLs from ``$CRATEMAP_STORE_OPTIONS`` (a JSON object; empty when unset).

    Raises
    ------
    ParameterError
        If the variable is set but is not a JSON object.
    """
    return parse_storage_options(os.environ.get("CRATEMAP_STORE_OPTIONS", ""), what="$CRATEMAP_STORE_OPTIONS")
