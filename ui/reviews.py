"""Where this visitor's reviews and saved results are kept: one review database, each visitor's rows their own.

The database is ``reviews_url`` from the ``[cratemap]`` secrets (PostgreSQL
on a deployment, where the server's disk does not survive a restart), or a
SQLite file in the data folder. Rows carry their owner: the visitor's key in
public mode, "" for the one user of local mode, and every read sees only
the owner's rows.
"""

from __future__ import annotations

from engine.store.reviews import ReviewStore
from engine.store.saved import SavedResults

from . import deploy


def target() -> str:
    """The review database: its URL, or the SQLite file's path."""
    url = deploy.config().reviews_url
    return url if url else str(deploy.data_dir() / "reviews.sqlite")


def reviews_of(owner: str) -> ReviewStore:
    return ReviewStore(target(), owner=owner)


def reviews() -> ReviewStore:
    """This visitor's reviews."""
    return reviews_of(deploy.visitor().key)


def saved_of(owner: str) -> SavedResults:
    return SavedResults(target(), owner=owner)


def saved() -> SavedResults:
    """This visitor's saved results."""
    return saved_of(deploy.visitor().key)


def where() -> str:
    """Where the reviews are kept, in words (never a path or a password)."""
    url = deploy.config().reviews_url
    if not url:
        return "the app's review file" if deploy.is_public() else "reviews.sqlite"
    return "the PostgreSQL database" if url.startswith("postgres") else "the review database"
