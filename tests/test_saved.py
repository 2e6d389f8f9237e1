"""Saved results (the nearest sections of one section, kept by the user): SQLite and PostgreSQL, per owner, across restarts."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from conftest import CEILING_S, ROOT
from engine.errors import ParameterError
from engine.records import SavedSection
from engine.store.reviews import ReviewStore
from engine.store.saved import SavedResults


def _sections(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "track_id": [f"t{i % 2}" for i in range(n)],
            "name": [f"crate/track {i % 2} ü.ogg" for i in range(n)],
            "section": list(range(n)),
            "start_s": [15.0 * i for i in range(n)],
            "end_s": [15.0 * (i + 1) for i in range(n)],
            "cluster": [0] * n,  # other columns are not kept
        }
    )


@pytest.mark.parametrize("review_target", ["sqlite", "postgresql"], indirect=True)
def test_a_saved_result_reads_back_whole_and_in_order(review_target):
    saved = SavedResults(review_target)
    first = saved.save(_sections(), title="  near X section 4  ", section_digest="a", config_digest="c")
    saved.save(_sections(2), title="other analysis", section_digest="b")
    assert first.title == "near X section 4" and first.kind == "similar"
    back = saved.results(section_digest="a")
    assert back == [first]
    assert [s.section for s in back[0].sections] == [0, 1, 2]
    assert back[0].sections[1] == SavedSection("t1", "crate/track 1 ü.ogg", 1, 15.0, 30.0)
    assert [r.title for r in saved.results()] == ["near X section 4", "other analysis"]
    assert saved.results(kind="mix") == []


@pytest.mark.parametrize("review_target", ["sqlite", "postgresql"], indirect=True)
def test_owners_see_and_delete_only_their_own(review_target):
    ann, bo = SavedResults(review_target, owner="ann"), SavedResults(review_target, owner="bo")
    mine = ann.save(_sections(), title="ann's")
    bo.save(_sections(), title="bo's")
    assert [r.title for r in ann.results()] == ["ann's"] and [r.title for r in bo.results()] == ["bo's"]
    assert bo.delete(mine.id) is False  # not theirs
    assert len(ann.results()) == 1
    assert ann.delete(mine.id) is True and ann.results() == []
    assert bo.delete_owner() == 1 and bo.results() == []


@pytest.mark.parametrize("review_target", ["sqlite", "postgresql"], indirect=True)
def test_saved_results_survive_a_restart_and_live_beside_the_reviews(review_target):
    code = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "import pandas as pd\n"
        "from engine.store.saved import SavedResults\n"
        "SavedResults(sys.argv[1]).save(pd.DataFrame({'track_id': ['t'], 'name': ['n'], 'section': [2],"
        " 'start_s': [30.0], 'end_s': [45.0]}), title='kept', section_digest='d')\n"
    )
    subprocess.run([sys.executable, "-c", code, review_target, str(ROOT)], check=True, timeout=CEILING_S)
    back = SavedResults(review_target).results(section_digest="d")
    assert [(r.title, r.sections[0].start_s) for r in back] == [("kept", 30.0)]
    reviews = ReviewStore(review_target)  # the review store opens the same database untouched
    assert reviews.count() == 0


def test_bad_results_are_refused_with_a_reason(tmp_path):
    saved = SavedResults(tmp_path / "r.sqlite")
    with pytest.raises(ParameterError, match="title"):
        saved.save(_sections(), title="   ")
    with pytest.raises(ParameterError, match="at least one section"):
        saved.save(_sections(0), title="empty")
    with pytest.raises(ParameterError, match="lack section"):
        saved.save(_sections().drop(columns="section"), title="x")
    bad = _sections()
    bad.loc[1, "end_s"] = bad.loc[1, "start_s"]
    with pytest.raises(ParameterError, match="bad times"):
        saved.save(bad, title="x")
    assert saved.results() == []
