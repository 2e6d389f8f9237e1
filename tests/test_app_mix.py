"""The Mix page (pages/7_Mix.py) on the demo library, through Streamlit's AppTest."""

from __future__ import annotations

import json

from app_support import page_errors, run_page


def test_mix_page_shows_descriptors_suggestions_and_a_preview():
    at = run_page("pages/7_Mix.py")
    assert not page_errors(at)
    metrics = [m.value for m in at.metric]
    assert metrics[0].endswith(" BPM") and metrics[1][-1] in "AB" and metrics[2].endswith("/10")
    assert "Mixes well with" in [s.value for s in at.subheader]
    table = at.dataframe(key="mix_table").value
    assert len(table) == 10 and table["why"].str.contains("BPM").all()
    at.button(key="mix_render").click().run()
    assert not page_errors(at)
    assert any(c.value.startswith("B stretched ×") for c in at.caption)


def test_other_pages_show_tempo_key_and_energy():
    at = run_page("pages/2_Classical_features.py")
    assert not page_errors(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    points = [t["customdata"] for t in spec["data"] if isinstance(t.get("customdata"), list) and len(t["customdata"][0]) > 5]
    hover = [row[5] for rows in points for row in rows]
    assert hover and all(" BPM · " in h and "energy " in h for h in hover)  # the scatter's hover text
    similar = run_page("pages/5_Similar_sections.py")
    assert not page_errors(similar)
    listing = similar.dataframe(key="sim_table").value
    assert {"BPM", "key (Camelot)", "energy"} <= set(listing.columns)
    assert listing["BPM"].between(60, 200).all() and listing["energy"].between(1, 10).all()


def test_moving_a_weight_only_reranks(monkeypatch):
    """The descriptors are cached apart from the weights: moving a weight slider re-ranks the
    suggestions without reading the library's descriptors again; a new key profile does read them."""
    import ui.mix

    reads = []
    real = ui.mix.describe_store

    def counted(*args, **kwargs):  # a spy: the real engine call, counted
        reads.append(kwargs["config"].key_profile)
        return real(*args, **kwargs)

    monkeypatch.setattr(ui.mix, "describe_store", counted)
    ui.mix._descriptors.clear()
    at = run_page("pages/7_Mix.py")
    assert not page_errors(at) and reads == ["krumhansl"]
    before = at.dataframe(key="mix_table").value
    at.slider(key="mix_w_timbre").set_value(0.0).run()
    at.slider(key="mix_w_energy").set_value(1.0).run()
    assert not page_errors(at) and reads == ["krumhansl"]
    after = at.dataframe(key="mix_table").value
    assert list(after["score"]) != list(before["score"])  # the weights did change the ranking
    at.selectbox(key="mix_profile").set_value("temperley").run()
    assert not page_errors(at) and reads == ["krumhansl", "temperley"]
