"""The neural views end to end on a small uploaded library: listen, cluster, Grad-CAM, compare.

(The demo library takes about two minutes of CPU to embed, so the demo test in
test_app_pages only checks that these pages render and offer to do it.)
"""

from __future__ import annotations

from app_support import page_errors, run_page, wav_bytes


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_demo_pages_offer_to_listen_first():
    for page in ("pages/3_Neural_embeddings.py", "pages/4_Compare_methods.py"):
        at = run_page(page)
        assert page_errors(at) == []
        assert any("Model that" in m.value for m in at.markdown) or "Compare" in page
        if not at.metric:  # embeddings not in the store yet: the page says so and offers the button
            assert any("has not listened" in i.value for i in at.info)
            assert any(b.label.startswith("Listen with") for b in at.button)


def test_neural_and_compare_on_an_upload():
    at = run_page("pages/1_Library.py")
    at.radio(key="_w_source").set_value("files").run()
    at.file_uploader[0].set_value([(f"set/t{i}.wav", wav_bytes(33, seed=10 + i), "audio/wav") for i in range(3)]).run()
    assert {m.label: m.value for m in at.metric}["Tracks"] == "3"

    at.switch_page("pages/3_Neural_embeddings.py").run()
    assert page_errors(at) == []
    at.button(key="nn_compute").click().run()
    assert page_errors(at) == []
    assert _metric(at, "Dimensions") == "200"
    assert int(_metric(at, "Clusters")) >= 2
    assert any("Model that ran" in m.value and "musicnn" in m.value for m in at.markdown)
    assert any("than the rest" in m.value or "mostly" in m.value for m in at.markdown)  # tag descriptions

    at.radio(key="_w_nn_level").set_value("sections").run()
    assert page_errors(at) == []
    assert "sections of 3 tracks" in " ".join(c.value for c in at.caption)

    at.session_state["neural_tabs"] = "Where the network listens (Grad-CAM)"
    at.run()
    at.slider(key="nn_cam_per").set_value(4).run()
    assert page_errors(at) == []
    titles = [c for c in at.get("plotly_chart")]
    assert len(titles) >= 3  # the map and one heat map per cluster

    at.switch_page("pages/4_Compare_methods.py").run()
    assert page_errors(at) == []
    assert int(_metric(at, "Sections compared")) == 6  # two 15-s sections per 33-s track
    ari = float(_metric(at, "Adjusted Rand index"))
    assert -1.0 <= ari <= 1.0
    table = at.dataframe[0].value
    assert {"classical", "neural (matched)", "agree"} <= set(table.columns)

    at.switch_page("pages/1_Library.py").run()
    at.radio(key="_w_source").set_value("demo").run()
    assert page_errors(at) == []
