"""A beat-matched transition preview from one section into another.

Layout of the rendered audio, on A's beat grid (bars of 4 beats)::

    | lead_bars of A alone | crossfade_bars: A fades out, B fades in | tail_bars of B alone |
    0                      x0                                         x1                     end

B is time-stretched to A's tempo (or to half/double it, whichever needs the
smaller change) with Rubber Band through pedalboard (``high_quality``, crisp
transients); librosa's phase vocoder is the fallback when pedalboard is
missing. B's first grid beat is placed on A's grid line at ``x0``, so every
later beat of B lands on A's grid. The crossfade is equal-power
(``cos``/``sin`` gains, constant summed power for uncorrelated signals);
B's level is matched to A's RMS (within +-12 dB) and the result is scaled
down only if it would clip. Downbeats are not detected: beats are aligned,
bars are counted from each section's first beat.
"""

from __future__ import annotations

import io

import numpy as np

from ..config import MixConfig
from ..errors import EngineError, ParameterError
from ..records import MixTable, Transition
from .descriptors import _check_row

__all__ = ["render_transition", "time_stretch", "to_wav_bytes", "transition_from_store"]

BEATS_PER_BAR = 4
PREVIEW_SAMPLE_RATE = 44_100  # Hz, the rate tracks are decoded at for a preview (descriptor times are in seconds)
_MAX_GAIN_DB = 12.0  # largest level change applied to match B to A
_PEAK = 0.98  # full-scale peak the preview is limited to


def time_stretch(y: np.ndarray, *, sample_rate: int, rate: float, stretcher: str = "rubberband") -> tuple[np.ndarray, str]:
    """Change the speed of ``y`` by ``rate`` (> 1 faster) keeping its pitch.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sample_rate : int
    rate : float
        Speed factor, 0.5..2.
    stretcher : str
        ``"rubberband"`` (pedalboard; falls back to the phase vocoder when
        pedalboard is not installed) or ``"phase-vocoder"`` (librosa).

    Returns
    -------
    y_stretched : np.ndarray [shape=(about n / rate,)], float32
    used : str
        The stretcher that ran.

    Raises
    ------
    ParameterError
        For a rate outside 0.5..2 or an unknown stretcher.
    EngineError
        If the stretcher fails.
    """
    if not 0.5 <= rate <= 2.0:
        raise ParameterError(f"stretch rate must be in 0.5..2, got {rate}")
    if stretcher not in ("rubberband", "phase-vocoder"):
        raise ParameterError(f"unknown stretcher {stretcher!r}; choose 'rubberband' or 'phase-vocoder'")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if abs(rate - 1.0) < 1e-9:
        return y.copy(), stretcher
    if stretcher == "rubberband":
        try:
            import pedalboard
        except ImportError:
            stretcher = "phase-vocoder"
        else:
            try:
                out = pedalboard.time_stretch(y[None, :], float(sample_rate), stretch_factor=float(rate), high_quality=True)
            except Exception as exc:  # pedalboard raises plain RuntimeError/ValueError
                raise EngineError(f"Rubber Band time stretch failed ({exc})") from exc
            return np.asarray(out[0], dtype=np.float32), "rubberband"
    import librosa

    try:
        return librosa.effects.time_stretch(y, rate=float(rate)).astype(np.float32), "phase-vocoder"
    except librosa.ParameterError as exc:
        raise EngineError(f"phase-vocoder time stretch failed ({exc})") from exc


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0


def render_transition(
    a: np.ndarray,
    b: np.ndarray,
    *,
    sample_rate: int,
    bpm_a: float,
    first_beat_a: float,
    bpm_b: float,
    first_beat_b: float,
    crossfade_bars: int = 8,
    lead_bars: int = 4,
    tail_bars: int = 4,
    stretcher: str = "rubberband",
    match_level: bool = True,
) -> Transition:
    """Render A into B: B stretched to A's tempo, beats aligned, an equal-power crossfade.

    Parameters
    ----------
    a : np.ndarray [shape=(n_a,)]
        Audio of A; it must hold ``lead_bars + crossfade_bars`` bars from ``first_beat_a``.
    b : np.ndarray [shape=(n_b,)]
        Audio of B; it must hold ``crossfade_bars + tail_bars`` bars (at B's
        tempo) from ``first_beat_b``.
    sample_rate : int
        Of both.
    bpm_a, bpm_b : float
        Their tempi. B is matched at x1, x2 or x0.5 its tempo, whichever is nearest A's.
    first_beat_a, first_beat_b : float
        Seconds into ``a`` and ``b`` of the beat the preview starts from.
    crossfade_bars, lead_bars, tail_bars : int
        Bars of 4 beats (see the module docstring).
    stretcher : str
        ``"rubberband"`` or ``"phase-vocoder"``.
    match_level : bool
        Scale B to A's RMS (within +-12 dB).

    Returns
    -------
    Transition

    Raises
    ------
    ParameterError
        For invalid tempi or bar counts, or audio too short for them.
    EngineError
        If time stretching fails.
    """
    a, b = _checked_audio(a, b, bpm_a=bpm_a, bpm_b=bpm_b, bars=(lead_bars, crossfade_bars, tail_bars))
    sr = int(sample_rate)
    factor = _tempo_factor(bpm_a, bpm_b)
    rate = bpm_a / (bpm_b * factor)  # B's speed change
    period_a = 60.0 / bpm_a
    bar_a = BEATS_PER_BAR * period_a
    a_seg = _span_of_a(a, sr, first_beat_a, bpm_a=bpm_a, bar_a=bar_a, bars=lead_bars + crossfade_bars)
    b_out, used = _b_on_a_grid(b, sr, first_beat_b, rate=rate, bar_a=bar_a, bars=crossfade_bars + tail_bars, stretcher=stretcher)
    gain_db = _level_gain_db(a_seg, b_out) if match_level else 0.0
    out, x0, x1 = _crossfade(a_seg, b_out * np.float32(10 ** (gain_db / 20)), sr, bar_a=bar_a, bars=(lead_bars, crossfade_bars, tail_bars))
    return Transition(
        audio=out,
        sample_rate=sr,
        bpm=float(bpm_a),
        beats_s=np.arange((lead_bars + crossfade_bars + tail_bars) * BEATS_PER_BAR) * period_a,
        crossfade_start_s=x0 / sr,
        crossfade_end_s=x1 / sr,
        stretch=float(rate),
        tempo_factor=factor,
        stretcher=used,
        gain_b_db=gain_db,
    )


def _tempo_factor(bpm_a: float, bpm_b: float) -> float:
    """What B is matched at: x1, x2 or x0.5 its tempo, whichever is nearest A's."""
    factors = np.array([1.0, 2.0, 0.5])
    return float(factors[np.argmin(np.abs(np.log(bpm_b * factors / bpm_a)))])


def _checked_audio(a: np.ndarray, b: np.ndarray, *, bpm_a: float, bpm_b: float, bars: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A and B as float32, once their audio, tempi and (lead, crossfade, tail) bar counts are checked."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.ndim != 1 or b.ndim != 1 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ParameterError("A and B must be finite mono audio")
    if not (20.0 <= bpm_a <= 400.0 and 20.0 <= bpm_b <= 400.0):
        raise ParameterError(f"tempi must be in 20..400 BPM, got {bpm_a} and {bpm_b}")
    lead_bars, crossfade_bars, tail_bars = bars
    if crossfade_bars < 1 or lead_bars < 0 or tail_bars < 0:
        raise ParameterError(f"need crossfade_bars >= 1 and lead/tail bars >= 0, got {crossfade_bars}, {lead_bars}, {tail_bars}")
    return a, b


def _span_of_a(a: np.ndarray, sr: int, first_beat_a: float, *, bpm_a: float, bar_a: float, bars: int) -> np.ndarray:
    """``bars`` bars of A from ``first_beat_a`` (the lead and the crossfade)."""
    n_a = int(round(bars * bar_a * sr))
    a0 = int(round(first_beat_a * sr))
    if a0 < 0 or a0 + n_a > a.shape[0]:
        raise ParameterError(
            f"A holds {a.shape[0] / sr:.1f} s; {bars} bars at {bpm_a:.1f} BPM from {first_beat_a:.2f} s need "
            f"{first_beat_a + n_a / sr:.1f} s (use fewer bars)"
        )
    return a[a0 : a0 + n_a]


def _b_on_a_grid(b: np.ndarray, sr: int, first_beat_b: float, *, rate: float, bar_a: float, bars: int, stretcher: str) -> tuple[np.ndarray, str]:
    """``bars`` bars (at A's tempo) of B from ``first_beat_b``, stretched by ``rate``; and the stretcher used."""
    n_b_out = int(round(bars * bar_a * sr))
    # B's source span: what becomes n_b_out samples after stretching, plus a bar of margin for the stretcher.
    b0 = int(round(first_beat_b * sr))
    n_b_in = int(np.ceil(n_b_out * rate))
    if b0 < 0 or b0 + n_b_in > b.shape[0]:
        raise ParameterError(
            f"B holds {b.shape[0] / sr:.1f} s; {bars} bars from {first_beat_b:.2f} s need "
            f"{first_beat_b + n_b_in / sr:.1f} s (use fewer bars)"
        )
    margin = min(b.shape[0] - (b0 + n_b_in), int(bar_a * rate * sr))
    stretched, used = time_stretch(b[b0 : b0 + n_b_in + margin], sample_rate=sr, rate=rate, stretcher=stretcher)
    b_out = np.zeros(n_b_out, dtype=np.float32)
    m = min(n_b_out, stretched.shape[0])
    b_out[:m] = stretched[:m]
    return b_out, used


def _level_gain_db(a_seg: np.ndarray, b_out: np.ndarray) -> float:
    """The gain (dB, within +-12) that brings B to A's RMS; 0 when either is silent."""
    ra, rb = _rms(a_seg), _rms(b_out)
    if ra > 0 and rb > 0:
        return float(np.clip(20 * np.log10(ra / rb), -_MAX_GAIN_DB, _MAX_GAIN_DB))
    return 0.0


def _crossfade(a_seg: np.ndarray, b_out: np.ndarray, sr: int, *, bar_a: float, bars: tuple[int, int, int]) -> tuple[np.ndarray, int, int]:
    """A then B with an equal-power crossfade between samples x0 and x1, limited to the peak; and x0, x1."""
    lead_bars, crossfade_bars, tail_bars = bars
    n_a, n_b_out = a_seg.shape[0], b_out.shape[0]
    total = int(round((lead_bars + crossfade_bars + tail_bars) * bar_a * sr))
    x0 = int(round(lead_bars * bar_a * sr))
    x1 = x0 + int(round(crossfade_bars * bar_a * sr))
    u = (np.arange(x1 - x0, dtype=np.float64) + 0.5) / (x1 - x0)
    gain_a = np.ones(n_a, dtype=np.float32)
    # x1 may pass A's span by a sample (each length is rounded on its own): A's fade-out stops at its end.
    gain_a[x0:x1] = np.cos(0.5 * np.pi * u)[: max(0, min(x1, n_a) - x0)]
    gain_a[x1:] = 0.0
    gain_b = np.ones(n_b_out, dtype=np.float32)
    gain_b[: x1 - x0] = np.sin(0.5 * np.pi * u)
    out = np.zeros(total, dtype=np.float32)
    out[:n_a] += a_seg * gain_a
    end = min(total, x0 + n_b_out)
    out[x0:end] += (b_out * gain_b)[: end - x0]
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > _PEAK:
        out *= np.float32(_PEAK / peak)
    return out, x0, x1


def to_wav_bytes(audio: np.ndarray, *, sample_rate: int) -> bytes:
    """16-bit PCM WAV of mono audio, for a download button or a file.

    Raises
    ------
    ParameterError
        If the audio is not finite mono.
    """
    import soundfile as sf

    y = np.asarray(audio, dtype=np.float32)
    if y.ndim != 1 or not np.all(np.isfinite(y)):
        raise ParameterError("audio must be finite and mono")
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), int(sample_rate), format="WAV", subtype="PCM_16")
    return buf.getvalue()


def transition_from_store(
    store,
    table: MixTable,
    *,
    row_a: int,
    row_b: int,
    config: MixConfig = MixConfig(),
    stretcher: str = "rubberband",
) -> Transition:
    """Render the transition from one stored section into another, decoding both tracks.

    The crossfade ends where section A ends (on A's beat grid, moved earlier
    by whole bars when A's track is too short) and B enters at its section's
    first beat (moved earlier by whole bars of B when B's track ends before
    the crossfade and the tail do: a section near the end of a track). Bars from ``config``: ``crossfade_bars``, ``lead_bars``, ``tail_bars``.

    Parameters
    ----------
    store : Store
    table : MixTable
        From :func:`engine.mixing.descriptors.describe_store`.
    row_a, row_b : int
        Rows of the two sections.
    config : MixConfig
    stretcher : str

    Returns
    -------
    Transition
        As :func:`render_transition` gives it.

    Raises
    ------
    ParameterError
        For rows out of range, or tracks too short for the bars asked.
    DecodeError
        If a track's file cannot be read any more.
    """
    da, db = table.descriptors.iloc[_check_row(table, row_a)], table.descriptors.iloc[_check_row(table, row_b)]
    ya, yb = _decoded(store, [da, db])
    return render_transition(
        ya,
        yb,
        sample_rate=PREVIEW_SAMPLE_RATE,
        bpm_a=float(da["bpm"]),
        first_beat_a=_start_of_a(da, ya.shape[0] / PREVIEW_SAMPLE_RATE, config),
        bpm_b=float(db["bpm"]),
        first_beat_b=_start_of_b(db, yb.shape[0] / PREVIEW_SAMPLE_RATE, bpm_a=float(da["bpm"]), config=config),
        crossfade_bars=config.crossfade_bars,
        lead_bars=config.lead_bars,
        tail_bars=config.tail_bars,
        stretcher=stretcher,
    )


def _decoded(store, sections: list) -> list[np.ndarray]:
    """The audio of each section's track at :data:`PREVIEW_SAMPLE_RATE` (each track decoded once)."""
    from ..audio.decode import decode_file

    audio = {}
    for d in sections:
        tid = str(d["track_id"])
        if tid not in audio:
            track = store.track(tid)
            if track is None or not track.path:
                raise ParameterError(f"the store does not know where {d['name']!r} is; analyse it again")
            audio[tid] = decode_file(track.path, sample_rate=PREVIEW_SAMPLE_RATE, name=track.name).y
    return [audio[str(d["track_id"])] for d in sections]


def _start_of_a(da, duration_s: float, config: MixConfig) -> float:
    """The beat of section A the preview starts on: whole bars from its first beat, so that the
    crossfade ends at (or just before) the section's end, moved earlier while past the track's end."""
    bar_a = BEATS_PER_BAR * 60.0 / float(da["bpm"])
    span = (config.lead_bars + config.crossfade_bars) * bar_a
    first = float(da["first_beat_s"])
    k = int(np.floor((float(da["end_s"]) - first - span) / bar_a + 1e-9))
    start_a = first + k * bar_a
    while start_a < 0:
        start_a += bar_a
    while start_a + span > duration_s and start_a - bar_a >= 0:
        start_a -= bar_a
    return start_a


def _start_of_b(db, duration_s: float, *, bpm_a: float, config: MixConfig) -> float:
    """The beat B enters on: its section's first beat, moved earlier by whole bars of B while the
    crossfade and the tail (at A's tempo, B matched at x1, x2 or x0.5) would run past B's end."""
    bpm_b = float(db["bpm"])
    bar_b = BEATS_PER_BAR * 60.0 / (bpm_b * _tempo_factor(bpm_a, bpm_b))  # B's source seconds per bar of the preview
    span = (config.crossfade_bars + config.tail_bars) * bar_b
    start_b = float(db["first_beat_s"])
    while start_b + span > duration_s - 1.0 / PREVIEW_SAMPLE_RATE and start_b - bar_b >= 0:
        start_b -= bar_b
    return start_b
