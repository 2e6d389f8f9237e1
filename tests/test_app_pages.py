"""Every page renders on the demo library; k, method and settings behave as a user expects."""

from __future__ import annotations

import pytest

from app_support import PAGES, page_errors, run_page


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("page", [None, *PAGES])
def test_page_renders_on_the_demo_library(page):
    at = run_page(page)
    assert page_errors(at) == []
    assert len(at.title) >= 1


def test_landing_page_shows_the_demo_at_once():
    at = run_page()
    assert _metric(at, "Tracks") == "11"
    assert int(_metric(at, "Sections")) > 100
    assert any("demo library" in c.value for c in at.caption)


def test_changing_k_changes_the_cluster_count():
    # how fast the redraw is, is measured in bench/app.py, not here
    at = run_page("pages/2_Classical_features.py")
    assert _metric(at, "Clusters") == "4"
    at.slider(key="_w_k").set_value(6).run()
    assert page_errors(at) == []
    assert _metric(at, "Clusters") == "6"
    at.slider(key="_w_k").set_value(3).run()
    assert _metric(at, "Clusters") == "3"


def test_changing_the_method_to_fuzzy_c_means_shows_memberships():
    at = run_page("pages/2_Classical_features.py")
    at.selectbox(key="_w_method").set_value("fcm").run()
    assert page_errors(at) == []
    assert _metric(at, "Fuzzy partition coefficient")
    at.session_state["classical_tabs"] = "Memberships"  # open the (lazily computed) tab
    at.run()
    assert any("boundary sections" in m.value for m in at.markdown)
    at.selectbox(key="_w_method").set_value("hdbscan").run()
    assert page_errors(at) == []
    assert "sections" in _metric(at, "Noise")


def test_an_unsupported_setting_is_a_sentence_not_a_traceback():
    at = run_page("pages/2_Classical_features.py")
    at.selectbox(key="_w_feature_set").set_value("custom").run()
    assert at.multiselect(key="_w_custom_features").value  # seeded with the thesis's features
    at.multiselect(key="_w_custom_features").set_value([]).run()
    assert at.exception == []
    assert any("none of the features" in e.value for e in at.error)


def test_settings_persist_across_pages():
    at = run_page("pages/2_Classical_features.py")
    at.slider(key="_w_k").set_value(5).run()
    at.switch_page("pages/5_Similar_sections.py").run()
    assert page_errors(at) == []
    assert at.slider(key="_w_k").value == 5
    at.switch_page("pages/2_Classical_features.py").run()
    assert _metric(at, "Clusters") == "5"


def test_picking_a_section_plays_it_and_explains_it():
    at = run_page("pages/2_Classical_features.py")
    at.selectbox(key="_pick_classical").set_value(3).run()
    assert page_errors(at) == []
    assert any("section" in m.value for m in at.markdown if m.value.startswith("**"))
    assert len(at.get("audio")) >= 1
    assert len(at.get("plotly_chart")) >= 3  # map, spectrogram, waterfall, cluster summary


def test_similar_sections_lists_neighbours_with_players():
    at = run_page("pages/5_Similar_sections.py")
    assert page_errors(at) == []
    table = at.dataframe[0].value
    assert len(table) == 10 and table["distance"].is_monotonic_increasing
    assert len(at.get("audio")) >= 2
    labels = [b.label for b in at.get("download_button")]
    assert len(labels) == 7  # two playlists, rekordbox and Traktor, features, assignments, projector
    assert "Export to rekordbox (XML)" in labels and "Export to Traktor (NML)" in labels


def test_a_similar_sections_result_is_saved_listed_and_deleted():
    from engine.store.saved import SavedResults
    from ui.library import review_db_path

    at = run_page("pages/5_Similar_sections.py")
    before = len(SavedResults(review_db_path()).results())
    at.text_input(key="sim_saved_title").input("my warm-up").run()
    at.button(key="sim_saved_save").click().run()
    assert page_errors(at) == []
    mine = [r for r in SavedResults(review_db_path()).results() if r.title == "my warm-up"]
    assert len(mine) == 1 and len(mine[0].sections) == 11  # the section and its 10 neighbours, in order
    listing = at.dataframe[0].value
    assert [(x.name, x.section) for x in mine[0].sections[1:]] == list(zip(listing["track"], listing["section"]))
    assert any(e.label.startswith("Saved results (") for e in at.expander)
    at.button(key=f"sim_saved_delete_{mine[0].id}").click().run()
    assert page_errors(at) == []
    assert len(SavedResults(review_db_path()).results()) == before


def test_review_saves_a_judgement_and_shows_agreement():
    at = run_page("pages/6_Review.py")
    at.text_input(key="_w_reviewer").input("Test Reviewer").run()
    at.radio(key="review_verdict").set_value("wrong").run()
    at.text_input(key="review_label").input("breakdown").run()
    at.button(key="review_save").click().run()
    assert page_errors(at) == []
    assert any("Saved: wrong" in s.value for s in at.success)
    assert any(m.value == "Agreement with the clusters" for m in at.subheader)
    # the next section starts with no answer: saving again without choosing one saves nothing
    assert at.radio(key="review_verdict").value is None and at.text_input(key="review_label").value == ""
    at.button(key="review_save").click().run()
    assert any("Choose an answer first" in e.value for e in at.error)
    from engine.store.reviews import ReviewStore
    from ui.library import review_db_path

    rows = ReviewStore(review_db_path()).judgements()
    mine = rows[rows["reviewer"] == "Test Reviewer"]
    assert len(mine) == 1 and mine["label"].iloc[0] == "breakdown" and mine["verdict"].iloc[0] == "wrong"


def test_review_shows_only_judgements_of_the_same_analysis():
    at = run_page("pages/6_Review.py")
    at.text_input(key="_w_reviewer").input("Same Analysis").run()
    at.radio(key="review_verdict").set_value("right").run()
    at.button(key="review_save").click().run()
    from engine.store.reviews import ReviewStore
    from ui.library import review_db_path

    reviews = ReviewStore(review_db_path())
    saved = reviews.judgements(reviewer="Same Analysis").iloc[-1]
    # the same clustering settings, but sections cut or described under another analysis
    reviews.add(
        reviewer="Other Analysis", track_id=saved["track_id"], name=saved["name"], section=int(saved["section"]),
        start_s=float(saved["start_s"]), end_s=float(saved["end_s"]), assigned_cluster=int(saved["assigned_cluster"]),
        verdict="wrong", config_digest=saved["config_digest"], section_digest="another-analysis",
    )
    at.run()
    assert page_errors(at) == []
    shown = {str(v) for frame in at.dataframe for v in frame.value.get("reviewer", [])}
    assert "Same Analysis" in shown and "Other Analysis" not in shown


def test_review_without_a_verdict_says_so():
    at = run_page("pages/6_Review.py")
    at.text_input(key="_w_reviewer").input("Another Reviewer").run()
    at.button(key="review_save").click().run()
    assert at.exception == []
    assert any("Choose an answer" in e.value for e in at.error)


@pytest.mark.parametrize(
    "tab, expect",
    [
        ("Choosing k", "Suggested k ="),
        ("What each cluster holds", "Most typical sections"),
        ("Features that move together", "move together"),
    ],
)
def test_classical_tabs_render_when_opened(tab, expect):
    at = run_page("pages/2_Classical_features.py")
    at.session_state["classical_tabs"] = tab  # tabs compute only when open
    at.run()
    assert page_errors(at) == []
    assert any(expect in m.value for m in at.markdown)
