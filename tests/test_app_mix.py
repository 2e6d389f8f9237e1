"""The Mix page (pages/7_Mix.py) on the demo library, through Streamlit's AppTest."""

from __future__ import annotations

import json

from app_support import page_errors, run_page


def test_mix_page_shows_descriptors_suggestions_and_a_preview():
    at = run_page("pages/7_Mix.py")
    assert not page_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tempo"].endswith(" BPM") and metrics["Energy"].endswith("/10")
    key = next(m for m in at.metric if m.label == "Key")  # a Camelot code, or no clear key with the best guess
    assert key.value[-1] in "AB" or (key.value == "no clear key" and key.delta.startswith("best guess ") and key.delta[-1] == ")")
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


def test_the_mix_page_and_the_map_show_each_sections_phrase_label():
    """The current section's phrase label and confidence, a phrase column in the suggestions, the label in the
    map's hover text, and a map coloured by phrase label: all as the library's section rows hold them."""
    import re

    from engine.describe.phrases import PHRASE_LABELS
    from ui.charts import PHRASE_COLOURS

    at = run_page("pages/7_Mix.py")
    assert not page_errors(at)
    phrase = next(m for m in at.metric if m.label == "Phrase")
    assert phrase.value in PHRASE_LABELS and re.fullmatch(r"confidence [01]\.\d\d", phrase.delta)
    table = at.dataframe(key="mix_table").value
    assert "phrase" in table.columns and table["phrase"].str.fullmatch(r"(intro|build|drop|breakdown|outro) [01]\.\d\d").mean() >= 0.8
    classical = run_page("pages/2_Classical_features.py")
    assert not page_errors(classical)
    spec = json.loads(classical.get("plotly_chart")[0].proto.spec)
    rows = [r for t in spec["data"] if isinstance(t.get("customdata"), list) and len(t["customdata"][0]) > 6 for r in t["customdata"]]
    assert rows and sum(r[6].startswith("<br>phrase: ") for r in rows) >= 0.8 * len(rows)
    assert all(re.fullmatch(r"<br>phrase: (intro|build|drop|breakdown|outro) [01]\.\d\d", r[6]) for r in rows if r[6])
    classical.radio(key="_w_map_colour").set_value("phrase").run()
    assert not page_errors(classical)
    spec = json.loads(classical.get("plotly_chart")[0].proto.spec)
    named = {t["name"]: t["marker"]["color"] for t in spec["data"] if t.get("type") == "scattergl"}
    assert named and set(named) <= {*PHRASE_LABELS, "no phrase label"} and all(PHRASE_COLOURS.get(n, "#8a8a8a") == c for n, c in named.items())
