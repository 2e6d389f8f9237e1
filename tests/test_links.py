"""Links that reproduce a view: the URL carries the library, the settings and the focused section.

A session opened on a link (``AppTest`` with query parameters, its first page
the linked one) shows the same settings and section; a session's URL follows
what it shows; values that are not valid are ignored; and in public mode a
link opens only the demo or a store the operator named, never a path.
"""

from __future__ import annotations

from app_support import RUN_TIMEOUT, data_dir, page_errors
from conftest import ROOT
from engine.config import AnalysisConfig
from engine.run.pipeline import DEMO_DIR
from engine.store.core import Store

CLASSICAL = "pages/2_Classical_features.py"


def _opened(params: dict, page: str = CLASSICAL, *, secrets: dict | None = None):
    """A new session opened on a link to ``page`` with ``params``."""
    from streamlit.testing.v1 import AppTest

    data_dir()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=RUN_TIMEOUT)
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(page)
    return at.run()


def _a_demo_section(n: int = 5):
    shipped = Store(DEMO_DIR / ".store")
    meta = shipped.load_sections(AnalysisConfig(), track_ids=shipped.track_ids()).meta
    row = meta.sort_values(["name", "section"]).iloc[n]
    return str(row["track_id"]), int(row["section"]), str(row["name"])


def _source(at) -> str:
    """The session's library source (its default, the demo, until something sets it)."""
    try:
        return at.session_state["source"]
    except KeyError:
        return "demo"


def _heading(at) -> str:
    return next((m.value for m in at.markdown if " · section " in m.value), "")


def test_a_link_opens_the_same_settings_and_section():
    tid, sec, name = _a_demo_section()
    at = _opened({"lib": "demo", "k": "5", "method": "agglomerative", "metric": "cosine", "section": f"{tid}:{sec}"})
    assert page_errors(at) == []
    assert at.slider(key="_w_k").value == 5
    assert at.selectbox(key="_w_method").value == "agglomerative" and at.selectbox(key="_w_metric").value == "cosine"
    assert _heading(at).startswith(f"**{name}** · section {sec} ·")
    # the clusters are the same as those of a session that chose the same settings by hand
    by_hand = _opened({})
    by_hand.selectbox(key="_w_method").set_value("agglomerative").run()
    by_hand.selectbox(key="_w_metric").set_value("cosine").run()
    by_hand.slider(key="_w_k").set_value(5).run()
    assert [m.value for m in at.metric] == [m.value for m in by_hand.metric]


def test_the_url_follows_the_view():
    at = _opened({})
    assert dict(at.query_params) == {"lib": "demo"}  # defaults are not written
    at.slider(key="_w_k").set_value(6).run()
    at.selectbox(key="_w_scaler").set_value("minmax").run()
    assert dict(at.query_params) == {"lib": "demo", "k": "6", "scaler": "minmax"}
    tid, sec, _ = _a_demo_section(2)
    at.session_state["focus_classical"] = (tid, sec)
    at.run()
    assert at.query_params["section"] == f"{tid}:{sec}"
    at.switch_page("pages/1_Library.py").run()
    at.slider(key="_w_section_seconds").set_value(20).run()
    assert at.query_params["section_seconds"] == "20" and at.query_params["k"] == "6"


def test_values_that_are_not_valid_are_ignored():
    at = _opened({"k": "999", "method": "<script>", "metric": "no such metric", "section_seconds": "abc", "section": "zzz", "lib": "elsewhere"})
    assert page_errors(at) == []
    assert at.slider(key="_w_k").value == 4 and at.selectbox(key="_w_method").value == "kmeans"
    assert _heading(at) == ""


def test_in_public_mode_a_link_opens_only_the_demo_or_a_named_store():
    secrets = {"cratemap": {"mode": "public", "stores": {"shared": {"url": str(data_dir() / "store")}}}}
    for lib in (f"store:{data_dir() / 'store'}", f"store:{data_dir() / 'visitors'}", "store:s3://bucket/x", "folder", "files"):
        at = _opened({"lib": lib}, "pages/1_Library.py", secrets=secrets)
        assert page_errors(at) == []
        assert _source(at) == "demo", lib  # a path in a link opens nothing
        assert at.query_params["lib"] == "demo"
    at = _opened({"lib": "store:shared"}, "pages/1_Library.py", secrets=secrets)
    assert page_errors(at) == [] and at.session_state["source"] == "store" and at.session_state["store_url"] == "shared"
    assert at.query_params["lib"] == "store:shared"
