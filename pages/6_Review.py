"""Review: listen to sections and say whether their cluster is right. Judgements are kept in the review database."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.analysis.compare import knn_evaluate_reviews
from engine.errors import EngineError
from engine.store.reviews import VERDICTS
from ui import charts, compute, controls, deploy, media, page, player, reviews as review_db, state

page.setup("Review")
st.title("Review")
st.caption(
    "The expert check the thesis planned: listen to a section, say whether the cluster CrateMap put it in is right, "
    "and if not, which one is. Every judgement is saved with your name, the time and the clustering settings."
)

library, analysis, table, config, result = controls.clustered_library()
try:
    reviews = review_db.reviews()
except EngineError as exc:
    controls.fail(exc)
frame = compute.cluster_frame(result)
digest = result.config_digest
section_digest = analysis.section_digest()
clusters = sorted(set(int(c) for c in frame["cluster"]))

ORDERS = {
    "boundary": "Boundary sections first (the least clear-cut)",
    "cluster": "One cluster at a time",
    "random": "Random order",
}
top = st.columns([2, 3, 2])
with top[0]:
    st.text_input("Your name", placeholder="e.g. Ana (DJ)", max_chars=80, **state.bind("reviewer"))
with top[1]:
    order = st.radio("Order", list(ORDERS), format_func=ORDERS.get, horizontal=False, **state.bind("review_order", options=list(ORDERS)))
with top[2]:
    only_cluster = None
    if order == "cluster":
        only_cluster = st.selectbox("Cluster", clusters, format_func=charts.cluster_name, key="review_cluster")
    hide_done = st.checkbox("Skip sections I have judged", value=True, key="review_hide_done")

reviewer = state.get("reviewer").strip()
mine = reviews.latest(config_digest=digest, section_digest=section_digest)
mine = mine[mine["reviewer"] == reviewer] if reviewer else mine.iloc[0:0]
done = set(zip(mine["track_id"], mine["section"].astype(int)))

# the queue of rows to judge
if order == "boundary":
    queue = np.argsort(compute.boundary_margin(result), kind="stable")
elif order == "cluster":
    queue = np.flatnonzero(frame["cluster"].to_numpy() == only_cluster)
else:
    queue = np.random.default_rng(config.seed).permutation(len(frame))
if hide_done:
    queue = np.array([r for r in queue if controls.section_key(frame, int(r)) not in done], dtype=int)

st.divider()
flash = st.session_state.pop("review_flash", None)
if flash:
    (st.error if flash[0] == "error" else st.success)(flash[1])
if not reviewer:
    st.info("Type your name above to start reviewing (it is saved with each judgement).")
elif len(queue) == 0:
    st.success("You have judged every section in this queue. Thank you! Change the order or the clustering to review more.")
else:
    pos = int(st.session_state.get("review_pos", 0)) % len(queue)
    row = int(queue[pos])
    sec = frame.iloc[row]
    assigned = int(sec["cluster"])
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown(f"##### Section {pos + 1} of {len(queue)} in this queue")
        player.section(sec, key="review")
    with right:
        st.markdown(f"#### CrateMap says: {charts.cluster_name(assigned)}")
        if assigned >= 0:
            summ = compute.summaries(library, analysis, config)[assigned]
            st.caption(
                f"{summ.size} sections, mostly from " + ", ".join(n for n, _ in summ.tracks[:3])
                + (" ..." if len(summ.tracks) > 3 else "")
            )
        verdict = st.radio(
            "Is this section in the right cluster?",
            list(VERDICTS),
            format_func={"right": "Yes, it belongs there", "wrong": "No, it does not", "unsure": "Not sure"}.get,
            key="review_verdict",
            index=None,
        )
        corrected = None
        if verdict == "wrong":
            others = [c for c in clusters if c != assigned]
            corrected = st.selectbox(
                "Which cluster is right? (optional)",
                [None, *others],
                format_func=lambda c: "I don't know / none of them" if c is None else charts.cluster_name(c),
                key="review_corrected",
            )
        label = st.text_input("A label of your own (optional)", placeholder="e.g. breakdown, vocal hook, rolling bass", key="review_label")
        comment = st.text_area("Comment (optional)", key="review_comment", height=80)

        def save() -> None:
            v = st.session_state.get("review_verdict")
            if v is None:
                st.session_state["review_flash"] = ("error", "Choose an answer first: yes, no or not sure.")
                return
            try:
                reviews.add(
                    reviewer=reviewer,
                    track_id=str(sec["track_id"]),
                    name=str(sec["name"]),
                    section=int(sec["section"]),
                    start_s=float(sec["start_s"]),
                    end_s=float(sec["end_s"]),
                    assigned_cluster=assigned,
                    verdict=v,
                    corrected_cluster=st.session_state.get("review_corrected") if v == "wrong" else None,
                    label=st.session_state.get("review_label", ""),
                    comment=st.session_state.get("review_comment", ""),
                    config_digest=digest,
                    section_digest=section_digest,
                )
            except EngineError as exc:
                st.session_state["review_flash"] = ("error", deploy.said(exc))
                return
            st.session_state["review_flash"] = ("success", f"Saved: {v} for {sec['name']} section {int(sec['section'])}.")
            # cleared by value, not removed: a removed key leaves the browser's widget showing (and sending) the old answer
            st.session_state["review_verdict"] = None
            st.session_state["review_label"] = ""
            st.session_state["review_comment"] = ""
            st.session_state.pop("review_corrected", None)  # drawn only with "wrong", so it starts afresh
            if not hide_done:
                st.session_state["review_pos"] = pos + 1

        def skip() -> None:
            st.session_state["review_pos"] = pos + 1

        b1, b2 = st.columns(2)
        b1.button("Save and next", type="primary", on_click=save, key="review_save", width="stretch")
        b2.button("Skip", on_click=skip, key="review_skip", width="stretch")

# ----------------------------------------------------------------------------- agreement
st.divider()
st.subheader("Agreement with the clusters")
latest = reviews.latest(config_digest=digest, section_digest=section_digest)
if latest.empty:
    st.info("No judgements of this clustering of these sections yet.")
else:
    by_cluster = reviews.agreement(by="cluster", config_digest=digest, section_digest=section_digest)
    by_reviewer = reviews.agreement(by="reviewer", config_digest=digest, section_digest=section_digest)
    c1, c2 = st.columns(2)
    with c1:
        st.plotly_chart(charts.agreement_bars(by_cluster, key="cluster", title="Per cluster"), config={"displaylogo": False})
        st.dataframe(by_cluster, hide_index=True, width="stretch",
                     column_config={"agreement": st.column_config.NumberColumn(format="percent")})
    with c2:
        st.plotly_chart(charts.agreement_bars(by_reviewer, key="reviewer", title="Per reviewer"), config={"displaylogo": False})
        st.dataframe(by_reviewer, hide_index=True, width="stretch",
                     column_config={"agreement": st.column_config.NumberColumn(format="percent")})
    st.caption("Agreement = right / (right + wrong), from each reviewer's latest judgement per section; 'not sure' is left out.")

    st.subheader("Do the labels follow the sound?")
    st.caption(
        "A KNN classifier learns the labels reviewers gave (a label you typed, else the cluster you named when you said "
        "'no'; a plain 'yes' only agrees with the clustering, so it is no label) from the features, always tested on songs "
        "it never saw (versions of one piece count as one song). Accuracy well above the baseline means the labels follow "
        "what the features measure."
    )
    if st.button("Test the labels", key="review_knn"):
        try:
            with st.spinner("Cross-validating, one song held out at a time..."):
                report = knn_evaluate_reviews(
                    table, reviews, config_digest=digest, section_digest=section_digest, versions=compute.versions(library),
                    k=1, config=config.replace(dedupe=False),
                )
        except EngineError as exc:
            st.error(f"Cannot test the labels yet: {deploy.said(exc)}")
        else:
            m1, m2, m3 = st.columns(3)
            m1.metric("Accuracy on unseen songs", f"{report.accuracy:.0%}")
            m2.metric("Always guessing the commonest label", f"{report.majority_baseline:.0%}")
            m3.metric("Labelled sections", report.n_sections, help=f"from {report.n_groups} songs; {report.cv}")
            st.dataframe(report.confusion, width="stretch")

media.download(
    "Download every judgement (CSV)",
    lambda: reviews.to_csv().encode("utf-8"),
    file_name="cratemap-judgements.csv",
    mime="text/csv",
    icon=":material/download:",
    key="review_csv",
)
whose = "your" if deploy.is_public() else "all"
st.caption(f"{reviews.count()} judgements in {review_db.where()} ({whose} judgements, every clustering and reviewer).")
