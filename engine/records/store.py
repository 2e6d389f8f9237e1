"""Records of the store stage: an expert's stored judgement of a section's cluster.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Judgement"]


@dataclass(frozen=True)
class Judgement:
    """One stored judgement (a row of ``engine.store.reviews.ReviewStore``)."""

    id: int  # row id, increasing in the order rows were written
    created_utc: str  # ISO 8601 in UTC
    reviewer: str
    track_id: str  # sha256 of the file's bytes
    name: str  # the track's display name when judged
    section: int  # section number within the track
    start_s: float  # seconds
    end_s: float  # seconds
    assigned_cluster: int  # the cluster shown to the reviewer
    verdict: str  # one of engine.store.reviews.VERDICTS
    corrected_cluster: int | None  # the right cluster, when the reviewer named one
    label: str  # a free label ("" when none)
    comment: str  # "" when none
    config_digest: str  # clustering config digest
    section_digest: str  # analysis section digest ("" when unknown)

    @property
    def resolved_label(self) -> str | None:
        """The label the reviewer gave the section, or None when they gave none.

        A free label wins; else the cluster named with a ``wrong`` verdict
        (``"cluster 3"``). A ``right`` verdict without a free label gives none:
        it only repeats the clustering's own answer.
        """
        return Judgement.label_of(self)

    @staticmethod
    def label_of(row) -> str | None:
        """The label a judgement, or a row of ``ReviewStore.judgements()`` (a named tuple), gives its section.

        The rule of :attr:`resolved_label`, for rows read as a table.
        """
        if row.label:
            return str(row.label)
        if row.verdict == "wrong" and row.corrected_cluster is not None and not pd.isna(row.corrected_cluster):
            return f"cluster {int(row.corrected_cluster)}"
        return None  # "right" repeats the clustering's answer; "unsure" and a bare "wrong" name none
