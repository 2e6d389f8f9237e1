"""Mix: a section's BPM, key and energy; what mixes well with it; a transition preview; a mix path."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.describe.key import CLEAR_KEY
from engine.errors import EngineError
from ui import charts, controls, deploy, dj, downloads, media, mix, page, player, similar
from ui.library import require_library

page.setup("Mix")
st.title("Mix")
st.caption("Tempo, key (Camelot) and energy of every section, and which sections a DJ could mix next — with reasons, a beat-matched preview and a path between two sections.")

analysed = require_library()
library, analysis = analysed.library, analysed.config
config, k, only = mix.controls()
try:
    table = mix.mix_table(library, analysis, config)
except EngineError as exc:
    controls.fail(exc)
frame = mix.frame(library, table)
FOCUS = "mix"
space = similar.space_control(library, analysis, key="mix_space", seconds_of_audio=float(frame.groupby("track_id")["end_s"].max().sum()))
st.caption(f"Timbre compared by: **{similar.LABELS[space]}** ({similar.WHAT[space]}). {similar.WHY}")

focus = controls.get_focus(FOCUS)
if focus is None:  # arrive from the section picked on another page
    focus = controls.get_focus("similar") or controls.get_focus("classical") or controls.section_key(frame, 0)
    controls.set_focus(FOCUS, focus)
if controls.row_of(frame, focus) is None:
    controls.set_focus(FOCUS, controls.section_key(frame, 0))
row = controls.section_picker(frame, focus=FOCUS, label="Section (or pick one on another page's map)")
row = 0 if row is None else int(row)
q = frame.iloc[row]

st.subheader(charts.section_label(str(q["name"]), int(q["section"]), q["start_s"], q["end_s"]))
c0, c1, c2, c3 = st.columns(4)
if q["phrase_label"]:
    c0.metric("Phrase", str(q["phrase_label"]), f"confidence {q['phrase_confidence']:.2f}", delta_color="off",
              help="Intro, build, drop, breakdown or outro: from the section's energy, where the music changes and its place in the "
                   "track; the label of the phrase that covers most of the section (Library: Cut sections by phrases gives one each).")
else:
    c0.metric("Phrase", "unknown", help="No phrase label: the track has no bars to find phrases in, or the section lies before its first bar.")
c1.metric("Tempo", f"{q['bpm']:.1f} BPM", help=f"confidence {q['bpm_confidence']:.2f}. {q['tempo_note']}")
if q["key_clear"]:
    c2.metric("Key", f"{q['camelot']}", q["key"], delta_color="off",
              help=f"confidence {q['key_confidence']:.3f}, strength {q['key_strength']:.2f}, profile {config.key_profile}")
else:  # drums, noise or too little harmony: a guess is not shown as a key
    c2.metric("Key", "no clear key", f"best guess {q['camelot']} ({q['key']})", delta_color="off",
              help=f"confidence {q['key_confidence']:.3f}, under the {CLEAR_KEY} a key needs: this section holds little tonal evidence")
c3.metric("Energy", f"{int(q['energy_level'])}/10", f"{q['loudness_db']:.1f} dBFS, {q['onset_rate']:.1f} onsets/s", delta_color="off")
player.section(q, heading=False, show_spectrogram=False)
if q["tempo_note"]:  # how the tempo was read, and what else it could be
    st.caption(f"Tempo {q['bpm']:.1f} BPM: {q['tempo_note']}.")

try:
    sug = mix.suggestions(library, analysis, config, int(row), int(k), bool(only), space)
except EngineError as exc:  # e.g. the invariant space under the thesis's 17 features: fall back to classical, saying so
    space = similar.usable(space, exc)
    try:
        sug = mix.suggestions(library, analysis, config, int(row), int(k), bool(only), space)
    except EngineError as exc:
        controls.fail(exc)
left, right = st.columns([1, 2])
with left:
    st.plotly_chart(mix.camelot_wheel(str(q["camelot"]), list(sug.frame["camelot"])), key="mix_wheel", config={"displaylogo": False})
    st.caption("Red: this section's key; orange: keys of the suggestions.")
with right:
    track = table.tracks.get(str(q["track_id"]))
    if track is not None:
        st.plotly_chart(mix.energy_chart(track.curve_times_s, track.curve_energy, q["start_s"], q["end_s"]), key="mix_energy_curve", config={"displaylogo": False})
        st.caption(f"Energy over the track ({track.bpm:.1f} BPM, {track.camelot} {track.key}); the section is shaded.")

st.subheader("Mixes well with")
if len(sug) == 0:
    st.info("No candidates: turn off *Only compatible sections* or *Only sections of other tracks*.")
    st.stop()
found = sug.frame.copy()
found["path"] = frame["path"].to_numpy()[found["row"].to_numpy()]
listing = pd.DataFrame(
    {
        "#": range(1, len(found) + 1),
        "track": found["name"].astype(str),
        "section": found["section"].astype(int),
        "phrase": charts.phrase_texts(found),
        "score": found["score"].round(3),
        "compatible": found["compatible"].astype(bool),
        "why": found["reason"],
    }
)
picked = st.dataframe(listing, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="mix_table")
chosen = picked.selection.rows[0] if picked and picked.selection.rows else 0
cand = found.iloc[chosen]
a, b = st.columns(2)
with a:
    st.markdown("**This section**")
    player.section(q, heading=True, show_spectrogram=False)
with b:
    st.markdown(f"**Candidate #{chosen + 1}** (click a row above to choose another)")
    player.section(cand, heading=True, show_spectrogram=False)

st.subheader("Transition preview")
st.caption(f"The candidate time-stretched to this section's tempo, beats aligned, an equal-power crossfade over {config.crossfade_bars} bars.")
if st.button("Render the transition", key="mix_render", icon=":material/graphic_eq:"):
    st.session_state["mix_render_pair"] = (controls.section_key(frame, int(row)), controls.section_key(frame, int(cand["row"])), config.digest())
if st.session_state.get("mix_render_pair") == (controls.section_key(frame, int(row)), controls.section_key(frame, int(cand["row"])), config.digest()):
    try:
        wav, text = mix.transition_wav(library, analysis, config, int(row), int(cand["row"]))
    except EngineError as exc:
        st.error(deploy.said(exc))
    else:
        media.audio(wav, "audio/wav")
        st.caption(text)
        media.download("Download the preview (WAV)", lambda: wav, file_name="cratemap-transition.wav", mime="audio/wav", key="mix_dl_wav")

st.subheader("Mix path")
labels = controls.row_labels(frame)
p1, p2 = st.columns([3, 1])
target = p1.selectbox("To section", range(len(frame)), index=min(len(frame) - 1, int(cand["row"])), format_func=lambda r: labels[r], key="mix_target")
steps = p2.number_input("Steps", 1, 12, 4, key="mix_steps")
if int(target) == int(row):
    st.info("Pick a different section to reach.")
else:
    try:
        chain = mix.path(library, analysis, config, int(row), int(target), int(steps), space)
    except EngineError as exc:
        st.warning(deploy.said(exc))
    else:
        shown = chain.frame.copy()
        st.dataframe(
            pd.DataFrame({"track": shown["name"], "section": shown["section"], "phrase": charts.phrase_texts(shown),
                          "BPM": shown["bpm"].round(1), "key": shown["camelot"],
                          "energy": shown["energy_level"], "step": shown["reason"]}),
            hide_index=True, width="stretch", key="mix_path_table",
        )  # fmt: skip
        if chain.note:  # a large library: the graph came from the timbre index
            st.caption(f"Large library: {chain.note}.")
        shown["path"] = frame["path"].to_numpy()[chain.rows]
        downloads.playlist_buttons(shown, digest=chain.config_digest, title="CrateMap mix path", stem="cratemap-mix-path", key="mix_path_pl", table_digest=analysis.section_digest())
        crates = controls.cluster_config(tuple(table.sections.names), len(table))  # the clusters the Classical page shows
        ends = f"{shown['name'].iloc[0]} {int(shown['section'].iloc[0])} → {shown['name'].iloc[-1]} {int(shown['section'].iloc[-1])}"
        dj.dj_buttons(library, analysis, crates, shown, playlist=("Mix paths", ends), key="mix_path_dj")

st.subheader("Take it with you")
downloads.playlist_buttons(
    pd.concat([frame.iloc[[row]], found.drop(columns=[c for c in found.columns if c not in frame.columns])], ignore_index=True),
    digest=sug.config_digest, title=f"CrateMap: mixes with {q['name']} section {int(q['section'])}", stem="cratemap-mix", key="mix_pl",
    table_digest=analysis.section_digest(),
)  # fmt: skip
downloads.table_button(table.to_frame(), label="Tempo, key, energy and features of every section (CSV)", file_name="cratemap-mix.csv", key="mix_dl_table")
