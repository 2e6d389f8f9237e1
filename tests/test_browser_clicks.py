"""A person who clicks everything: every page through the sidebar, every kind of mark on every chart.

One browser session (one context, one page) against a real ``streamlit run``
server (tests/test_browser.py's ``server`` fixture: a free loopback port, a
temporary ``CRATEMAP_DATA``), starting at Home:

* every page is opened from the sidebar menu and every Plotly chart on it gets
  one click per kind of mark it has (section points, cluster centres, density
  layers, bars, heat-map cells, wheel segments, line points) and one click on a
  legend entry (which hides that trace; a second click shows it again); tabs
  are opened (the Neural page's Grad-CAM tab computes on opening), a review is
  saved so the Review page draws its agreement bars, and the Classical map gets
  a box and a lasso selection from Plotly's toolbar;
* after every click the page settles (tests/test_browser.py's ``_settle``) and
  must show no exception, no "Traceback" and no error box, and every audio
  player must start where the section named above it starts;
* a clicked section point is played from its start and shown as the section
  being listened to (the ring on the map, the section picker);
* k, the method, the distance and the section length are changed as a person
  would (a key press on the slider, the select boxes, the Library slider);
* the address of the resulting view, opened by a new visitor (a new browser
  context), shows the same view.

Screenshots of every view land in ``test-output/clicks-*.png`` and a table of
what was clicked in ``test-output/clicks-report.txt``. Nothing here sleeps for
a fixed time: every wait is for a condition, under a ceiling derived from
``conftest.CEILING_S``.
"""

from __future__ import annotations

import math
import re
import time
import urllib.parse
from collections import defaultdict

import pytest

from conftest import CEILING_S
from test_browser import CHROMIUM, CHROMIUM_ARGS, OUT, _settle, server  # noqa: F401  (server is a fixture)

pytestmark = pytest.mark.browser

#: The ceiling of any wait for the app (a run, an analysis, Grad-CAM).
CEILING_MS = CEILING_S * 1000
#: The ceiling of a wait for a rerun to *start* after a click (it starts within a second when all is well).
RERUN_START_MS = CEILING_MS // 10
#: The ceiling of a wait for the browser alone (a hover label, a legend toggle, an open list box).
UI_MS = CEILING_MS // 20
VIEWPORT = {"width": 1440, "height": 1800}
#: Sidebar label, page title (its h1), screenshot name; in the order a person goes down the menu.
PAGES = (
    ("Home", "CrateMap", "home"),
    ("Library", "Library", "library"),
    ("Classical features", "Classical features", "classical"),
    ("Neural embeddings", "Neural embeddings", "neural"),
    ("Compare methods", "Compare methods", "compare"),
    ("Similar sections", "Similar sections", "similar"),
    ("Review", "Review", "review"),
    ("Mix", "Mix", "mix"),
)
#: Maps whose clicks focus a section (``controls.section_map`` / the Similar page), and the
#: container of the player that shows the focused section (None: the player is elsewhere on the page).
SELECTABLE = {"classical_map": ".st-key-listen_panel", "neural_map": ".st-key-neural_listen_panel", "similar_map": None}
CLASSICAL_MAP = ".st-key-classical_map .js-plotly-plot"
#: The heading ``ui.player.section`` draws above a player: **name** · section N · m:ss–m:ss
HEADING = re.compile(r"^(?P<name>.+?) · section (?P<section>\d+) · (?P<span>\d+:\d{2}–\d+:\d{2})$", re.M)
START_TOLERANCE_S = 0.5 + 1e-6  # the heading rounds the start to whole seconds
MAX_CHARTS_PER_PAGE = 40

# Counts the app's script runs: every change of stApp's data-test-script-state to "running".
# A click's rerun starts a few hundred milliseconds after the click, so "settled" alone would
# pass before it began; a click that reruns the app is waited for by this count first.
RUN_COUNTER = """
window.__runs = 0;
window.__lastState = null;
const __observer = new MutationObserver(changes => {
  for (const c of changes) {
    const s = c.target.getAttribute('data-test-script-state');
    if (s === 'running' && window.__lastState !== 'running') window.__runs += 1;
    window.__lastState = s;
  }
});
document.addEventListener('DOMContentLoaded', () =>
  __observer.observe(document.documentElement, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']}));
"""

# Every chart on the page: its key (when its container has one), title, traces and legend entries.
CHARTS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map((gd, index) => {
  const own = gd.closest('.stElementContainer');
  const cls = own ? [...own.classList].find(c => c.startsWith('st-key-')) : null;
  const fl = gd._fullLayout || {};
  let title = ((fl.title && fl.title.text) || '').replace(/<[^>]*>/g, '');
  if (title === 'Click to enter Plot title') title = '';
  const r = gd.getBoundingClientRect();
  return {
    index, key: cls ? cls.slice('st-key-'.length) : null, title, shown: r.width > 0 && r.height > 0,
    traces: (gd._fullData || []).map(t => ({index: t.index, type: t.type, name: t.name, mode: t.mode || null,
      custom: !!t.customdata, hoverinfo: t.hoverinfo || null, visible: t.visible,
      n: (t.x || t.z || t.r || []).length})),
    legend: [...gd.querySelectorAll('.legend .traces')].map(g => (g.__data__ && g.__data__[0] && g.__data__[0].trace) ? g.__data__[0].trace.index : null),
  };
})"""

# Where on the screen to click one mark of trace ``ti`` of chart ``ci`` (viewport pixels), and which mark it is.
TARGET_JS = """([ci, ti, opts]) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[ci];
  const fl = gd._fullLayout, box = gd.getBoundingClientRect(), tr = gd._fullData[ti];
  const axes = t => [fl[(t.xaxis || 'x').replace('x', 'xaxis')], fl[(t.yaxis || 'y').replace('y', 'yaxis')]];
  const inView = (x, y) => x >= 1 && y >= 1 && x < innerWidth - 1 && y < innerHeight - 1;
  const inPlot = (xa, ya, x, y, pad) => x > box.left + xa._offset + pad && x < box.left + xa._offset + xa._length - pad
                                     && y > box.top + ya._offset + pad && y < box.top + ya._offset + ya._length - pad;
  const val = (ax, v) => ax.c2p(ax.d2c(v));
  if (tr.type === 'scatter' || tr.type === 'scattergl') {
    const [xa, ya] = axes(tr);
    const pos = (t, i) => { const [a, b] = axes(t); return [box.left + a._offset + val(a, t.x[i]), box.top + b._offset + val(b, t.y[i])]; };
    const others = [];
    for (const t of gd._fullData) {
      if ((t.type !== 'scatter' && t.type !== 'scattergl') || t.visible !== true || t.name === 'playing' || !t.x) continue;
      for (let i = 0; i < t.x.length; i++) others.push([t.index, i, ...pos(t, i)]);
    }
    let best = null;
    for (let i = 0; i < (tr.x || []).length; i++) {
      const [x, y] = pos(tr, i);
      if (!isFinite(x) || !isFinite(y) || !inView(x, y) || !inPlot(xa, ya, x, y, 6)) continue;
      const cd = tr.customdata ? Array.from(tr.customdata[i] || []) : null;
      if (opts.avoidRow !== null && cd && String(cd[0]) === String(opts.avoidRow)) continue;
      let gap = Infinity;
      for (const o of others) if (!(o[0] === tr.index && o[1] === i)) gap = Math.min(gap, Math.hypot(o[2] - x, o[3] - y));
      const late = (opts.preferLate && cd && !String(cd[3]).startsWith('0:00')) ? 1 : 0;
      const score = late * 1e6 + Math.min(gap, 1e5);
      if (!best || score > best.score) best = {score, x, y, point: i, gap, customdata: cd,
                                               data: [Number(tr.x[i]), Number(tr.y[i])]};
    }
    if (!best) return {error: 'no mark of this trace is drawn inside the plot area and the window'};
    return {x: best.x, y: best.y, point: best.point, gap: best.gap, customdata: best.customdata, data: best.data};
  }
  if (tr.type === 'heatmap' || tr.type === 'contour' || tr.type === 'histogram2dcontour' || tr.type === 'histogram2d') {
    const [xa, ya] = axes(tr);
    const z = tr.z || [], ny = z.length, nx = ny ? z[0].length : 0;
    const coord = (ax, arr, v0, dv, j, n) => {
      if (arr && arr.length === n + 1) return (ax.d2c(arr[j]) + ax.d2c(arr[j + 1])) / 2;
      if (arr && arr.length) return ax.d2c(arr[j]);
      return v0 + j * dv;
    };
    let best = null;
    for (let i = 0; i < ny; i++) for (let j = 0; j < nx; j++) {
      if (z[i][j] === null || !isFinite(z[i][j])) continue;
      const x = box.left + xa._offset + xa.c2p(coord(xa, tr.x, tr.x0 || 0, tr.dx || 1, j, nx));
      const y = box.top + ya._offset + ya.c2p(coord(ya, tr.y, tr.y0 || 0, tr.dy || 1, i, ny));
      if (!isFinite(x) || !isFinite(y) || !inView(x, y) || !inPlot(xa, ya, x, y, 2)) continue;
      const d = Math.hypot(i - ny / 2, j - nx / 2);
      if (!best || d < best.d) best = {d, x, y, point: [i, j], z: z[i][j]};
    }
    if (!best) return {error: 'no cell with a value is drawn inside the plot area and the window'};
    return {x: best.x, y: best.y, point: best.point, z: best.z};
  }
  // bars, waterfall steps, wheel segments: a point inside the drawn shape of the largest one
  const g = [...gd.querySelectorAll('g.trace')].find(g => g.__data__ && g.__data__[0] && g.__data__[0].trace && g.__data__[0].trace.index === tr.index);
  if (!g) return {error: 'the trace draws no SVG group'};
  let best = null;
  for (const p of g.querySelectorAll('.point path, path.point')) {
    const bb = p.getBBox(), m = p.getScreenCTM();
    if (!m || bb.width * bb.height < 4) continue;
    let inner = null;
    for (let a = 1; a < 10; a++) for (let b = 1; b < 10; b++) {
      const u = new DOMPoint(bb.x + bb.width * a / 10, bb.y + bb.height * b / 10);
      if (!p.isPointInFill(u)) continue;
      const s = u.matrixTransform(m), d = Math.hypot(a - 5, b - 5);
      if (inView(s.x, s.y) && (!inner || d < inner.d)) inner = {d, x: s.x, y: s.y};
    }
    if (!inner) continue;
    const area = bb.width * bb.height;
    const datum = p.__data__ || (p.parentNode && p.parentNode.__data__) || {};
    if (!best || area > best.area) best = {area, x: inner.x, y: inner.y, point: datum.i !== undefined ? datum.i : null};
  }
  if (!best) return {error: 'no shape of the trace is drawn inside the window'};
  return {x: best.x, y: best.y, point: best.point};
}"""

# Every audio player and the section span written last above it (a player heading, a section label).
AUDIO_JS = """() => {
  const out = [];
  let last = null;
  const label = /section (\\d+)\\D{0,4}(\\d+):(\\d{2})\\s*–\\s*(\\d+):(\\d{2})/;
  for (const el of document.querySelectorAll('[data-testid="stMarkdownContainer"], h1, h2, h3, h4, h5, h6, audio')) {
    if (el.tagName === 'AUDIO') {
      out.push({src: el.getAttribute('src'), currentTime: el.currentTime, duration: el.duration,
                error: el.error ? el.error.code : null, label: last && last.text,
                start: last && last.start, end: last && last.end});
      continue;
    }
    const text = el.innerText || '';
    const lines = text.split('\\n').filter(l => label.test(l));
    if (!lines.length) continue;
    const m = lines[lines.length - 1].match(label);
    last = {text: lines[lines.length - 1].trim(), start: (+m[2]) * 60 + (+m[3]), end: (+m[4]) * 60 + (+m[5])};
  }
  return out;
}"""

# Section points of the map's cluster traces, in viewport pixels, with their customdata.
POINTS_JS = """(sel) => {
  const gd = document.querySelector(sel), fl = gd._fullLayout, box = gd.getBoundingClientRect();
  const out = [];
  for (const t of gd._fullData) {
    if (t.type !== 'scattergl' && t.type !== 'scatter') continue;
    if (t.name === 'cluster centres' || t.name === 'playing' || !t.customdata) continue;
    const xa = fl[(t.xaxis || 'x').replace('x', 'xaxis')], ya = fl[(t.yaxis || 'y').replace('y', 'yaxis')];
    for (let i = 0; i < t.x.length; i++)
      out.push({trace: t.name, x: box.left + xa._offset + xa.c2p(t.x[i]), y: box.top + ya._offset + ya.c2p(t.y[i]),
                customdata: Array.from(t.customdata[i])});
  }
  const xa = fl.xaxis, ya = fl.yaxis;
  return {points: out, plot: {left: box.left + xa._offset, top: box.top + ya._offset, width: xa._length, height: ya._length}};
}"""


# --------------------------------------------------------------------------- the record of what was done


class Tour:
    """What was clicked where, how long each page took, and every problem seen (with a screenshot)."""

    def __init__(self) -> None:
        self.clicks: dict[str, list[str]] = defaultdict(list)
        self.seconds: dict[str, float] = defaultdict(float)
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.page_errors: list[str] = []
        self.audio_seen: set[tuple] = set()
        self.where = "?"

    def did(self, what: str) -> None:
        self.clicks[self.where].append(what)

    def problem(self, pg, text: str) -> None:
        n = len(self.problems) + 1
        shot = OUT / f"clicks-problem-{n:02d}.png"
        try:
            pg.screenshot(path=str(shot), full_page=True)
        except Exception:  # noqa: BLE001  (a screenshot is only evidence)
            shot = None
        self.problems.append(f"[{self.where}] {text}" + (f" (screenshot {shot.name})" if shot else ""))

    def report(self) -> str:
        lines = ["page | s | clicks"]
        for page in self.clicks:
            counts: dict[str, int] = defaultdict(int)
            for c in self.clicks[page]:
                counts[c] += 1
            listed = "; ".join(f"{c}" + (f" x{n}" if n > 1 else "") for c, n in counts.items())
            lines.append(f"{page} | {self.seconds[page]:.0f} | {listed}")
        if self.notes:
            lines += ["", "notes:"] + [f"- {n}" for n in self.notes]
        if self.page_errors:
            lines += ["", "JavaScript errors:"] + [f"- {e}" for e in self.page_errors]
        if self.problems:
            lines += ["", "problems:"] + [f"- {p}" for p in self.problems]
        return "\n".join(lines)


TOUR = Tour()


@pytest.fixture(scope="module")
def browser(server):  # noqa: F811  (the fixture imported above)
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
    (OUT / "clicks-report.txt").write_text(TOUR.report() + "\n")
    print("\n" + TOUR.report())


def _new_visitor(browser):
    context = browser.new_context(viewport=dict(VIEWPORT))
    context.add_init_script(RUN_COUNTER)
    pg = context.new_page()
    pg.set_default_timeout(CEILING_MS)
    pg.on("pageerror", lambda e: TOUR.page_errors.append(f"[{TOUR.where}] {e}"))
    return context, pg


@pytest.fixture(scope="module")
def visitor(browser):
    """The one page of the one browser context the tour and the settings changes use."""
    context, pg = _new_visitor(browser)
    yield pg
    context.close()


# --------------------------------------------------------------------------- waiting and checking


def _runs(pg) -> int:
    return int(pg.evaluate("() => window.__runs || 0"))


def _frames(pg, n: int = 2) -> None:
    """Let the browser draw ``n`` frames (what a click changes in the browser alone is drawn by then)."""
    pg.evaluate("(n) => new Promise(r => { const f = k => k ? requestAnimationFrame(() => f(k - 1)) : r(); f(n); })", n)


def _act(pg, action, *, rerun: bool | None, what: str) -> None:
    """Do ``action``; when it reruns the app (``rerun``; None: it may), wait for that run, then settle and check the page."""
    before = _runs(pg)
    action()
    if rerun:
        try:
            pg.wait_for_function("(n) => window.__runs > n", arg=before, timeout=RERUN_START_MS)
        except Exception as exc:  # noqa: BLE001
            TOUR.problem(pg, f"{what}: the app did not rerun within {RERUN_START_MS / 1000:.0f} s ({type(exc).__name__})")
    else:
        _frames(pg)
    _settle(pg)
    _check_page(pg, what)


def _check_page(pg, what: str) -> None:
    """No exception, no traceback, no error box; every player starts where the section above it starts."""
    exc = pg.locator('[data-testid="stException"]')
    broken = False
    if exc.count():
        TOUR.problem(pg, f"after {what}: an exception is shown: {exc.first.inner_text()[:1500]!r}")
        broken = True
    body = pg.evaluate("() => document.body.innerText")
    if "Traceback" in body:
        i = body.index("Traceback")
        TOUR.problem(pg, f"after {what}: the page shows a traceback: {body[i:i + 1500]!r}")
        broken = True
    if broken:  # the page stopped where it raised: clicking on would only wait for what it never drew
        raise AssertionError("the app raised:\n" + "\n".join(TOUR.problems))
    errors = pg.locator('[data-testid="stAlertContentError"]')
    for i in range(errors.count()):
        TOUR.problem(pg, f"after {what}: an error box says {errors.nth(i).inner_text()[:600]!r}")
    try:  # a player's position and length are known once its metadata has loaded
        pg.wait_for_function("() => [...document.querySelectorAll('audio')].every(a => a.readyState >= 1 || a.error)", timeout=UI_MS)
    except Exception:  # noqa: BLE001
        TOUR.problem(pg, f"after {what}: an audio player did not load its audio's metadata within {UI_MS / 1000:.0f} s")
    for a in pg.evaluate(AUDIO_JS):
        seen = (a["label"], a["src"], round(float(a["currentTime"]), 3))
        if seen in TOUR.audio_seen:  # one player stays on the page through many clicks: say it once
            continue
        if a["error"] is not None:
            TOUR.audio_seen.add(seen)
            TOUR.problem(pg, f"after {what}: the player under {a['label']!r} cannot load its audio (MediaError {a['error']}, {a['src']})")
            continue
        if a["start"] is None:
            continue
        clip, expected = _player_start(a)
        if abs(float(a["currentTime"]) - expected) > START_TOLERANCE_S:
            TOUR.audio_seen.add(seen)
            TOUR.problem(
                pg,
                f"after {what}: the player under {a['label']!r} starts at {a['currentTime']:.2f} s of "
                + (f"a {a['duration']:.2f} s clip of the section" if clip else f"the whole {a['duration']:.1f} s track")
                + f", not at the section's start ({expected:g} s there) (audio {a['src']})",
            )


def _player_start(audio: dict) -> tuple[bool, float]:
    """Is the player's audio the section alone (a clip: it starts at 0), and where must the player start?

    A whole track starts at the section's start; a clip of the section (what the app sends when the
    file cannot be played from a time) lasts as long as the section, and starts at 0.
    """
    length = audio["end"] - audio["start"]
    duration = audio["duration"]
    clip = duration is not None and math.isfinite(duration) and abs(duration - length) <= 1.01 and audio["start"] > 0
    return clip, (0.0 if clip else float(audio["start"]))


def _title(pg) -> str:
    return pg.evaluate("() => (document.querySelector('h1')?.innerText || '').trim()")


def _open_app(pg, server: str) -> None:
    """Open the app at Home (when this visitor has not opened it yet: a test run on its own)."""
    if pg.url.startswith(server):
        return
    pg.goto(server + "/")
    pg.wait_for_function("() => (document.querySelector('h1')?.innerText || '').trim() === 'CrateMap'", timeout=CEILING_MS)
    _settle(pg)
    _check_page(pg, "opening the app")


def _go(pg, label: str, title: str) -> None:
    """Open a page from the sidebar menu, as a person does, and wait until it has run."""
    before = _runs(pg)
    pg.locator('[data-testid="stSidebar"]').get_by_role("link", name=label, exact=True).click(timeout=RERUN_START_MS)
    pg.wait_for_function("(n) => window.__runs > n", arg=before, timeout=RERUN_START_MS)
    pg.wait_for_function("(t) => (document.querySelector('h1')?.innerText || '').trim() === t", arg=title, timeout=CEILING_MS)
    _settle(pg)
    _check_page(pg, f"opening {label} from the sidebar")


def _screenshot(pg, name: str) -> None:
    """A screenshot of the whole page: the window is made as tall as the page for it (Streamlit scrolls inside)."""
    height = pg.evaluate(
        "() => Math.max(document.documentElement.scrollHeight,"
        " ...[...document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stSidebarContent\"]')].map(e => e.scrollHeight))"
    )
    tall = min(int(height) + 40, 16000)
    if tall > VIEWPORT["height"]:
        pg.set_viewport_size({"width": VIEWPORT["width"], "height": tall})
        _frames(pg, 3)
        _settle(pg)
    pg.screenshot(path=str(OUT / f"clicks-{name}.png"), full_page=True)
    if tall > VIEWPORT["height"]:
        pg.set_viewport_size(dict(VIEWPORT))
        _frames(pg, 3)
        _settle(pg)


# --------------------------------------------------------------------------- charts and their marks


def _charts(pg) -> list[dict]:
    """Every chart on the page with an id that names it across reruns (its key, else its title)."""
    charts = pg.evaluate(CHARTS_JS)
    seen: dict[str, int] = defaultdict(int)
    for c in charts:
        base = c["key"] or c["title"] or "untitled chart"
        seen[base] += 1
        c["id"] = base if seen[base] == 1 else f"{base} #{seen[base]}"
    return charts


def _find(pg, chart_id: str) -> dict | None:
    return next((c for c in _charts(pg) if c["id"] == chart_id), None)


def _kind(chart: dict, trace: dict) -> str | None:
    """What a person sees a trace's marks as (None: nothing to click)."""
    t, name = trace["type"], str(trace["name"] or "")
    if trace["visible"] is not True:
        return None
    if name == "playing":
        return None  # the ring drawn around the section being listened to
    if t in ("scatter", "scattergl"):
        if name == "cluster centres":
            return "cluster centre"
        if trace["custom"] and (name.startswith("cluster ") or name.startswith("noise")):
            return "section point"
        return "line point" if "lines" in str(trace["mode"]) else "point"
    if t in ("heatmap", "histogram2d"):
        return "density layer" if name.startswith("density") else f"heat-map cell ({name})"
    if t in ("contour", "histogram2dcontour"):
        return "density contour"
    return {"bar": "bar", "waterfall": "waterfall step", "barpolar": "wheel segment"}.get(t, t)


def _hover_check(pg, chart: dict, ti: int, target: dict, what: str) -> None:
    """Move the mouse onto the mark; Plotly must say it hovers that very mark (else the click would hit another)."""
    pg.mouse.move(target["x"], target["y"])
    want = target.get("point")
    try:
        pg.wait_for_function(
            # the mark itself; for a heat map of cells a pixel or two high, a neighbouring cell of it; or
            # another trace's mark drawn at the very same place (the k sweep's knee star sits on its curve)
            """([ci, ti, p, at]) => { const gd = document.querySelectorAll('.js-plotly-plot')[ci];
                 return (gd._hoverdata || []).some(h =>
                   (h.curveNumber === ti && (p === null || JSON.stringify(h.pointNumber) === JSON.stringify(p)))
                   || (h.curveNumber === ti && Array.isArray(p) && Array.isArray(h.pointNumber)
                       && Math.abs(h.pointNumber[0] - p[0]) <= 1 && Math.abs(h.pointNumber[1] - p[1]) <= 1)
                   || (at !== null && Number(h.x) === at[0] && Number(h.y) === at[1])); }""",
            arg=[chart["index"], ti, want, target.get("data")],
            timeout=UI_MS,
        )
    except Exception:  # noqa: BLE001
        hovered = pg.evaluate(
            "(ci) => (document.querySelectorAll('.js-plotly-plot')[ci]._hoverdata || []).map(h => [h.curveNumber, h.pointNumber])",
            chart["index"],
        )
        TOUR.problem(pg, f"{what}: the mouse at ({target['x']:.0f}, {target['y']:.0f}) does not hover mark {want} of trace {ti}; Plotly hovers {hovered}")


def _panel_text(pg, panel: str | None) -> str:
    if panel is None:
        return pg.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').innerText")
    loc = pg.locator(panel)
    return loc.inner_text() if loc.count() else ""


def _click_mark(pg, chart: dict, trace: dict, kind: str) -> dict | None:
    """Click one mark of one trace; check what a click on that kind of mark must do. Returns the target clicked."""
    what = f"clicking a {kind} on the chart {chart['id']!r}"
    pg.locator(".js-plotly-plot").nth(chart["index"]).scroll_into_view_if_needed()
    _frames(pg)
    chart = _find(pg, chart["id"]) or chart
    avoid = None
    if kind == "section point":  # another section than the one being listened to
        avoid = pg.evaluate(
            """(ci) => { const t = document.querySelectorAll('.js-plotly-plot')[ci]._fullData.find(t => t.name === 'playing');
                 return t && t.customdata ? String(Array.from(t.customdata[0])[0]) : null; }""",
            chart["index"],
        )
    target = pg.evaluate(TARGET_JS, [chart["index"], trace["index"], {"avoidRow": avoid, "preferLate": kind == "section point"}])
    if "error" in target:
        TOUR.problem(pg, f"{what}: cannot find a mark to click: {target['error']}")
        return None
    if trace["hoverinfo"] != "skip" and kind != "density layer":
        _hover_check(pg, chart, trace["index"], target, what)
    selectable = chart["key"] in SELECTABLE and kind in ("section point", "cluster centre")
    panel = SELECTABLE.get(chart["key"]) if selectable else None
    before = _panel_text(pg, panel) if selectable else ""
    _act(pg, lambda: pg.mouse.click(target["x"], target["y"]), rerun=True if selectable else None, what=what)
    TOUR.did(f"{kind} on {chart['id']}")
    if kind == "section point" and chart["key"] in SELECTABLE:
        cd = target["customdata"]
        heading = f"{cd[1]} · section {cd[2]} · {cd[3]}"
        text = _panel_text(pg, panel)
        if heading not in text:
            TOUR.problem(pg, f"{what}: clicked {heading!r} (row {cd[0]}), but the player shows {_headings(text) or 'no section'}")
    elif kind == "cluster centre" and chart["key"] in SELECTABLE and panel is not None:
        if _headings(_panel_text(pg, panel)) != _headings(before):
            TOUR.problem(pg, f"{what}: the section being played changed from {_headings(before)} to {_headings(_panel_text(pg, panel))}")
    return target


def _headings(text: str) -> list[str]:
    return [m.group(0) for m in HEADING.finditer(text)]


def _click_legend(pg, chart: dict) -> None:
    """Click the first legend entry (its trace hides), then click it again (it shows)."""
    what = f"clicking the legend entry of the chart {chart['id']!r}"
    ti = chart["legend"][0]
    item = pg.locator(".js-plotly-plot").nth(chart["index"]).locator(".legend .traces").first
    item.scroll_into_view_if_needed()
    for want in ("legendonly", True):
        _act(pg, item.click, rerun=None, what=what)
        try:
            pg.wait_for_function(
                "([ci, ti, v]) => document.querySelectorAll('.js-plotly-plot')[ci]._fullData[ti].visible === v",
                arg=[chart["index"], ti, want],
                timeout=UI_MS,
            )
        except Exception:  # noqa: BLE001
            now = pg.evaluate("([ci, ti]) => document.querySelectorAll('.js-plotly-plot')[ci]._fullData[ti].visible", [chart["index"], ti])
            TOUR.problem(pg, f"{what}: trace {ti} should be {want!r} after the click, it is {now!r}")
        _settle(pg)
    TOUR.did(f"legend entry on {chart['id']} (hide, show)")


def _click_every_chart(pg, done: set[str]) -> None:
    """One click per kind of mark on every chart not visited yet (charts a click brings are visited too)."""
    visited = 0
    while visited < MAX_CHARTS_PER_PAGE:
        todo = [c for c in _charts(pg) if c["id"] not in done and c["shown"]]
        if not todo:
            return
        chart = todo[0]
        done.add(chart["id"])
        visited += 1
        kinds: dict[str, int] = {}
        for tr in chart["traces"]:
            kind = _kind(chart, tr)
            if kind and kind not in kinds:
                kinds[kind] = tr["index"]
        if not any(k.startswith("density") for k in kinds) and chart["key"] in SELECTABLE:
            TOUR.notes.append(f"{TOUR.where}: {chart['id']} draws every section as a point (no density layer at this size)")
        for kind, ti in kinds.items():
            now = _find(pg, chart["id"])
            if now is None:
                TOUR.notes.append(f"{TOUR.where}: {chart['id']} was redrawn under another title before its {kind} was clicked")
                break
            tr = next((t for t in now["traces"] if t["index"] == ti), None)
            if tr is None or tr["visible"] is not True:
                continue
            _click_mark(pg, now, tr, kind)
        now = _find(pg, chart["id"])
        if now is not None and now["legend"] and now["legend"][0] is not None:
            _click_legend(pg, now)
    TOUR.problem(pg, f"more than {MAX_CHARTS_PER_PAGE} charts appeared one after another; the tour stopped clicking")


def _open_tabs(pg, done: set[str], names: list[str] | None = None) -> None:
    tabs = pg.get_by_role("tab")
    labels = names or [tabs.nth(i).inner_text().strip() for i in range(tabs.count())]
    for label in labels:
        tab = pg.get_by_role("tab", name=label, exact=True)
        tab.scroll_into_view_if_needed()
        selected = tab.get_attribute("aria-selected") == "true"
        _act(pg, tab.click, rerun=not selected, what=f"opening the tab {label!r}")
        TOUR.did(f"tab {label!r}")
        _click_every_chart(pg, done)


# --------------------------------------------------------------------------- the Classical map


def _focus_state(pg) -> dict:
    """The Classical page's focused section as drawn: the ring on the map, the picker, the player."""
    ring = pg.evaluate(
        """(sel) => { const gd = document.querySelector(sel); const t = gd._fullData.find(t => t.name === 'playing');
             return t ? {x: Number(t.x[0]), y: Number(t.y[0]), row: String(Array.from(t.customdata[0])[0])} : null; }""",
        CLASSICAL_MAP,
    )
    picker = pg.get_by_role("combobox", name="Or pick a section", exact=True)
    panel = pg.locator(".st-key-listen_panel")
    return {
        "ring": ring,
        "picker": picker.input_value() if picker.count() else None,
        "headings": _headings(panel.inner_text()) if panel.count() else [],
        "audio": pg.evaluate("() => [...document.querySelectorAll('.st-key-listen_panel audio')].map(a => [a.currentTime, a.duration])"),
        "selected": pg.evaluate("(sel) => document.querySelector(sel)._fullData.map(t => [t.name, t.selectedpoints ?? null])", CLASSICAL_MAP),
    }


def _span_seconds(span: str) -> tuple[int, int]:
    a, b = span.split("–")
    return tuple(int(p.split(":")[0]) * 60 + int(p.split(":")[1]) for p in (a, b))  # type: ignore[return-value]


def _click_section_and_listen(pg) -> dict:
    """Click a section point on the Classical map; it must be played from its start and shown as the one selected."""
    pg.locator(CLASSICAL_MAP).scroll_into_view_if_needed()
    charts = {c["id"]: c for c in _charts(pg)}
    chart = charts["classical_map"]
    trace = max((t for t in chart["traces"] if _kind(chart, t) == "section point"), key=lambda t: t["n"])
    target = _click_mark(pg, chart, trace, "section point")
    assert target is not None, "could not click a section point on the Classical map"
    row, name, section, span = target["customdata"][:4]
    start, _ = _span_seconds(span)
    where = f"Classical map, section point {name!r} section {section} ({span}, row {row})"
    shown = _focus_state(pg)
    heading = f"{name} · section {section} · {span}"
    if shown["headings"] != [heading]:
        TOUR.problem(pg, f"{where}: the player's heading is {shown['headings']}, not [{heading!r}]")
    if len(shown["audio"]) != 1:
        TOUR.problem(pg, f"{where}: {len(shown['audio'])} audio players in the listening panel, not 1")
    end = _span_seconds(span)[1]
    for t, duration in shown["audio"]:
        clip, expected = _player_start({"start": start, "end": end, "duration": duration})
        if abs(t - expected) > START_TOLERANCE_S:
            TOUR.problem(pg, f"{where}: the player starts at {t:.2f} s of its {duration:.1f} s audio, not at the section's start ({expected:g} s there)")
    others = pg.evaluate("() => [...document.querySelectorAll('audio')].map(a => [a.currentTime, a.duration])")
    for t, duration in others:
        clip, expected = _player_start({"start": start, "end": end, "duration": duration})
        if abs(t - expected) > START_TOLERANCE_S:
            TOUR.problem(pg, f"{where}: an audio player on the page starts at {t:.2f} s of its {duration:.1f} s audio, "
                             f"not at the clicked section's start ({expected:g} s there)")
    label = f"{name} · section {section} ({span})"
    phrase = r"( · (intro|build|drop|breakdown|outro) [01]\.\d\d)?"  # the section's phrase label, where it has one
    if not re.fullmatch(re.escape(label) + phrase, shown["picker"]):
        TOUR.problem(pg, f"{where}: the section picker shows {shown['picker']!r}, not {label!r}")
    ring = shown["ring"]
    if ring is None or ring["row"] != str(row) or not (math.isclose(ring["x"], target["data"][0], rel_tol=1e-6, abs_tol=1e-9)
                                                      and math.isclose(ring["y"], target["data"][1], rel_tol=1e-6, abs_tol=1e-9)):
        TOUR.problem(pg, f"{where}: the 'playing' ring is {ring}, not on row {row} at {target['data']}")
    TOUR.notes.append(
        f"{where}: player at [currentTime, duration] {shown['audio']} (Streamlit seeks by currentTime; no #t= fragment on the src), "
        f"picker {shown['picker']!r}, Plotly selectedpoints {[s for s in shown['selected'] if s[1] is not None] or 'none kept after the rerun'}"
    )
    return {"row": str(row), "name": name, "section": int(section), "span": span, "start": start, "heading": heading}


def _modebar(pg, chart_sel: str, value: str) -> None:
    pg.locator(chart_sel).hover()
    button = pg.locator(f'{chart_sel} .modebar-btn[data-attr="dragmode"][data-val="{value}"]')
    _act(pg, button.click, rerun=None, what=f"choosing the {value} tool in the map's toolbar")
    pg.wait_for_function("([s, v]) => document.querySelector(s)._fullLayout.dragmode === v", arg=[chart_sel, value], timeout=UI_MS)


def _select_region(pg, how: str) -> None:
    """A box or lasso selection around a cluster centre: the sections inside become the selection."""
    what = f"a {how} selection on the Classical map"
    pg.locator(CLASSICAL_MAP).scroll_into_view_if_needed()
    _frames(pg)
    drawn = pg.evaluate(POINTS_JS, CLASSICAL_MAP)
    centres = pg.evaluate(
        """(sel) => { const gd = document.querySelector(sel), fl = gd._fullLayout, box = gd.getBoundingClientRect();
             const t = gd._fullData.find(t => t.name === 'cluster centres');
             return t ? Array.from(t.x).map((x, i) => [box.left + fl.xaxis._offset + fl.xaxis.c2p(x), box.top + fl.yaxis._offset + fl.yaxis.c2p(t.y[i])]) : []; }""",
        CLASSICAL_MAP,
    )
    plot = drawn["plot"]
    cx, cy = centres[0 if how == "box" else min(1, len(centres) - 1)] if centres else (plot["left"] + plot["width"] / 2, plot["top"] + plot["height"] / 2)
    cx = min(max(cx, plot["left"] + 20), plot["left"] + plot["width"] - 20)
    cy = min(max(cy, plot["top"] + 20), plot["top"] + plot["height"] - 20)

    def clamp(x, y):
        return (min(max(x, plot["left"] + 3), plot["left"] + plot["width"] - 3), min(max(y, plot["top"] + 3), plot["top"] + plot["height"] - 3))

    for r in (40, 60, 90, 130):
        if how == "box":
            (x0, y0), (x1, y1) = clamp(cx - r, cy - r), clamp(cx + r, cy + r)
            path = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        else:  # a circle drawn as 24 lasso points
            path = [clamp(cx + r * math.cos(2 * math.pi * i / 24), cy + r * math.sin(2 * math.pi * i / 24)) for i in range(24)]
        inside, border = _inside(drawn["points"], path)
        if len(inside) >= 3:
            break
    _modebar(pg, CLASSICAL_MAP, "select" if how == "box" else "lasso")

    def drag() -> None:
        pg.mouse.move(*path[0])
        pg.mouse.down()
        if how == "box":
            pg.mouse.move(*path[2], steps=12)
        else:
            for p in path[1:] + [path[0]]:
                pg.mouse.move(*p, steps=3)
        pg.mouse.up()

    _act(pg, drag, rerun=True, what=what)
    TOUR.did(f"{how} selection on classical_map")
    rows = {str(p["customdata"][0]) for p in inside}
    maybe = {str(p["customdata"][0]) for p in border}
    text = pg.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').innerText")
    m = re.search(r"Your selection: (\d+) sections", text)
    got = int(m.group(1)) if m else (1 if len(rows) == 1 else 0)
    if not (len(rows) <= got <= len(rows | maybe)) and not (len(rows) <= 1 and got <= 1):
        TOUR.problem(pg, f"{what}: {len(rows)} sections lie inside it ({len(maybe)} on its edge), the page says {m.group(0) if m else 'no selection'}")
    focus = _focus_state(pg)["headings"]
    wanted = {f"{p['customdata'][1]} · section {p['customdata'][2]} · {p['customdata'][3]}" for p in inside + border}
    if rows and not (set(focus) & wanted):
        TOUR.problem(pg, f"{what}: the player shows {focus}, which is none of the {len(wanted)} selected sections")
    TOUR.notes.append(f"{what}: {len(rows)} sections inside ({len(maybe)} on the edge); the page says {m.group(0) if m else 'no list (one or none)'}")
    _modebar(pg, CLASSICAL_MAP, "zoom")


def _inside(points: list[dict], path: list[tuple[float, float]], edge: float = 4.0) -> tuple[list[dict], list[dict]]:
    """Points strictly inside a polygon, and those within ``edge`` pixels of its outline."""
    inside, border = [], []
    n = len(path)
    for p in points:
        x, y = p["x"], p["y"]
        near = False
        for i in range(n):
            (x0, y0), (x1, y1) = path[i], path[(i + 1) % n]
            dx, dy = x1 - x0, y1 - y0
            t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)))
            if math.hypot(x - (x0 + t * dx), y - (y0 + t * dy)) < edge:
                near = True
                break
        if near:
            border.append(p)
            continue
        crossings = 0
        for i in range(n):
            (x0, y0), (x1, y1) = path[i], path[(i + 1) % n]
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                crossings += 1
        if crossings % 2:
            inside.append(p)
    return inside, border


# --------------------------------------------------------------------------- widgets


def _slider(pg, label: str):
    # the range input's accessible name repeats the label (it is labelled by itself and by its group)
    return pg.locator(f'[data-testid="stSlider"] input[type="range"][aria-label="{label}"]')


def _slider_value(pg, label: str) -> int:
    return int(float(_slider(pg, label).get_attribute("aria-valuetext") or _slider(pg, label).input_value()))


def _choose(pg, label: str, option: str) -> None:
    """Open a sidebar select box and click an option, as a person does."""
    box = pg.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=label, exact=True)
    box.click()
    choice = pg.get_by_role("option", name=option, exact=True)
    choice.wait_for(timeout=UI_MS)
    _act(pg, choice.click, rerun=True, what=f"choosing {option!r} under {label!r}")
    TOUR.did(f"{label} -> {option}")
    value = box.input_value()
    assert value == option, f"[{TOUR.where}] the select box {label!r} shows {value!r} after choosing {option!r}"


def _map_view(pg) -> dict:
    """What a visitor sees of the Classical view: sidebar settings, cluster sizes on the map, the section played."""
    sidebar = pg.locator('[data-testid="stSidebar"]')
    boxes = {}
    for label in ("Method", "Distance", "Linkage", "Scaling", "Features"):
        box = sidebar.get_by_role("combobox", name=label, exact=True)
        boxes[label] = box.input_value() if box.count() else None
    k = sidebar.locator('input[type="range"][aria-label="Number of clusters (k)"]')
    sizes = pg.evaluate(
        """(sel) => Object.fromEntries(document.querySelector(sel)._fullData
             .filter(t => /^(cluster \\d+|noise)/.test(t.name) && t.name !== 'cluster centres').map(t => [t.name, t.x.length]))""",
        CLASSICAL_MAP,
    )
    centres = pg.evaluate("(sel) => (document.querySelector(sel)._fullData.find(t => t.name === 'cluster centres')?.x || []).length", CLASSICAL_MAP)
    metric = pg.locator('[data-testid="stMetric"]').filter(has_text="Clusters").first
    panel = pg.locator(".st-key-listen_panel")
    return {
        "k slider": k.get_attribute("aria-valuetext") if k.count() else None,
        **boxes,
        "clusters metric": metric.inner_text().split("\n")[-1].strip() if metric.count() else None,
        "cluster sizes": sizes,
        "cluster centres": centres,
        "section heading": _headings(panel.inner_text()) if panel.count() else [],
        "section picker": pg.get_by_role("combobox", name="Or pick a section", exact=True).input_value(),
        "audio starts": pg.evaluate("() => [...document.querySelectorAll('.st-key-listen_panel audio')].map(a => [a.currentTime, a.duration])"),
    }


def _cluster_count(view: dict) -> int:
    return sum(1 for n in view["cluster sizes"] if n.startswith("cluster "))


# --------------------------------------------------------------------------- the tests


@pytest.mark.timeout(6 * CEILING_S)
def test_every_page_and_every_mark(server, visitor):  # noqa: F811
    """Home, then every page from the sidebar; one click per kind of mark on every chart, tabs, box and lasso."""
    pg = visitor
    TOUR.where = "Home"
    t0 = time.monotonic()
    _open_app(pg, server)
    for label, title, shot in PAGES:
        TOUR.where = label
        start = time.monotonic()
        if label != "Home":
            _go(pg, label, title)
        done: set[str] = set()
        if label == "Classical features":
            _click_section_and_listen(pg)
            _click_every_chart(pg, done)
            _select_region(pg, "box")
            _select_region(pg, "lasso")
            _click_every_chart(pg, done)
            _open_tabs(pg, done)
        elif label == "Neural embeddings":
            _click_every_chart(pg, done)
            _open_tabs(pg, done)
            if not any(c["id"].startswith("cam_") for c in _charts(pg)):
                TOUR.problem(pg, "the Grad-CAM tab drew no heat maps")
            _screenshot(pg, "neural-gradcam")
        elif label == "Review":
            name = pg.get_by_label("Your name", exact=True)
            _act(pg, lambda: (name.fill("Ana"), name.press("Enter")), rerun=True, what="typing a reviewer's name")
            TOUR.did("typed a name")
            _act(pg, pg.get_by_text("Yes, it belongs there", exact=True).click, rerun=True, what="answering 'Yes, it belongs there'")
            _act(pg, pg.get_by_role("button", name="Save and next").click, rerun=True, what="saving the judgement")
            TOUR.did("saved a judgement")
            if not pg.get_by_text(re.compile(r"^Saved: right for ")).count():
                TOUR.problem(pg, "saving a judgement did not say 'Saved: right for ...'")
            _click_every_chart(pg, done)
            if not any(c["title"] in ("Per cluster", "Per reviewer") for c in _charts(pg)):
                TOUR.problem(pg, "after a saved judgement the Review page draws no agreement bars")
        else:
            _click_every_chart(pg, done)
        _screenshot(pg, shot)
        TOUR.seconds[label] += time.monotonic() - start
    # and back Home through the menu
    TOUR.where = "Home"
    start = time.monotonic()
    _go(pg, "Home", "CrateMap")
    TOUR.did("back to Home from the sidebar")
    TOUR.seconds["Home"] += time.monotonic() - start
    TOUR.notes.append(f"the tour of every page took {time.monotonic() - t0:.0f} s")
    assert not TOUR.problems, "clicking everything found problems:\n" + "\n".join(TOUR.problems)


@pytest.mark.timeout(4 * CEILING_S)
def test_changing_settings_redraws_the_map(server, visitor):  # noqa: F811
    """k (a key press on the slider), the method, the distance and the section length, as a person changes them."""
    pg = visitor
    TOUR.where = "settings"
    start = time.monotonic()
    problems_before = len(TOUR.problems)
    _open_app(pg, server)
    _go(pg, "Classical features", "Classical features")
    if pg.get_by_role("combobox", name="Method", exact=True).input_value() != "K-Means":
        _choose(pg, "Method", "K-Means")
    view = _map_view(pg)
    k0 = int(view["k slider"])

    slider = _slider(pg, "Number of clusters (k)")
    _act(pg, lambda: (slider.focus(), pg.keyboard.press("ArrowRight")), rerun=True, what="pressing ArrowRight on the k slider")
    TOUR.did("k slider: ArrowRight")
    view = _map_view(pg)
    assert view["k slider"] == str(k0 + 1), f"the k slider shows {view['k slider']} after ArrowRight from {k0}"
    assert _cluster_count(view) == k0 + 1 and view["cluster centres"] == k0 + 1, (
        f"after k={k0 + 1} the map draws {_cluster_count(view)} cluster traces and {view['cluster centres']} centres: {view['cluster sizes']}"
    )
    assert view["clusters metric"] == str(k0 + 1), f"after k={k0 + 1} the Clusters metric says {view['clusters metric']}"
    _screenshot(pg, "settings-k")

    _choose(pg, "Method", "Agglomerative (hierarchical)")
    view = _map_view(pg)
    caption = pg.get_by_text(re.compile(r"sections of \d+ tracks · ")).first.inner_text()
    assert f"Agglomerative, k={k0 + 1}" in caption, f"after choosing Agglomerative the caption says {caption!r}"
    assert _cluster_count(view) == k0 + 1, f"the agglomerative map draws {view['cluster sizes']}, not {k0 + 1} clusters"
    assert view["Linkage"] is not None, "choosing Agglomerative shows no Linkage select box"
    _screenshot(pg, "settings-method")

    _choose(pg, "Distance", "Cosine (direction, not loudness)")
    view = _map_view(pg)
    caption = pg.get_by_text(re.compile(r"sections of \d+ tracks · ")).first.inner_text()
    assert "cosine distance" in caption, f"after choosing the cosine distance the caption says {caption!r}"
    assert _cluster_count(view) == k0 + 1, f"the cosine map draws {view['cluster sizes']}, not {k0 + 1} clusters"
    _screenshot(pg, "settings-metric")

    # the section length, on the Library page: a click on the slider's track at 20 s, then key presses to 20 exactly
    _go(pg, "Library", "Library")
    sections = pg.locator('[data-testid="stMetric"]').filter(has_text="Sections").first.inner_text().split("\n")[-1]
    label = "Section length (seconds)"
    track = pg.locator('[data-testid="stSlider"]').filter(has_text=label).locator('[role="group"] > div').first
    box = track.bounding_box()
    lo, hi = int(_slider(pg, label).get_attribute("min")), int(_slider(pg, label).get_attribute("max"))
    t_cut = time.monotonic()
    _act(pg, lambda: pg.mouse.click(box["x"] + box["width"] * (20 - lo) / (hi - lo), box["y"] + box["height"] / 2), rerun=True,
         what="clicking the section-length slider at 20 s")
    TOUR.did("section length slider: click at 20 s")
    for _ in range(5):
        value = _slider_value(pg, label)
        if value == 20:
            break
        _act(pg, lambda: (_slider(pg, label).focus(), pg.keyboard.press("ArrowRight" if value < 20 else "ArrowLeft")), rerun=True,
             what=f"nudging the section-length slider from {value} s")
        TOUR.did("section length slider: arrow key")
    assert _slider_value(pg, label) == 20, f"the section-length slider shows {_slider_value(pg, label)}, not 20"
    TOUR.notes.append(f"re-cutting the demo into 20 s sections took {time.monotonic() - t_cut:.0f} s")
    now = pg.locator('[data-testid="stMetric"]').filter(has_text="Sections").first.inner_text().split("\n")[-1]
    assert now != sections, f"the Library still says {sections} sections after changing the section length to 20 s"
    _screenshot(pg, "settings-library-20s")

    _go(pg, "Classical features", "Classical features")
    view = _map_view(pg)
    assert _cluster_count(view) == k0 + 1, f"after the 20 s cut the map draws {view['cluster sizes']}, not {k0 + 1} clusters"
    assert sum(view["cluster sizes"].values()) == int(now), (
        f"the map draws {sum(view['cluster sizes'].values())} sections, the Library counts {now}"
    )
    spans = pg.evaluate(POINTS_JS, CLASSICAL_MAP)["points"]
    by_track: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for p in spans:
        a, b = _span_seconds(p["customdata"][3])
        by_track[p["customdata"][1]].append((int(p["customdata"][2]), a, b))
    wrong = [
        (name, s, f"{a}-{b} s")
        for name, secs in by_track.items()
        for s, a, b in sorted(secs)[:-1]  # a track's last section may be shorter
        if b - a != 20 or a != 20 * s
    ]
    assert not wrong, f"after choosing 20 s sections these sections are not 20 s long: {wrong[:8]}"
    _screenshot(pg, "settings-classical-20s")
    TOUR.seconds["settings"] += time.monotonic() - start
    assert len(TOUR.problems) == problems_before, "changing the settings found problems:\n" + "\n".join(TOUR.problems[problems_before:])


@pytest.mark.timeout(4 * CEILING_S)
def test_a_shared_link_shows_the_same_view(server, browser, visitor):  # noqa: F811
    """The address of a view (changed settings, a clicked section), opened by a new visitor, shows that view."""
    pg = visitor
    TOUR.where = "shared link"
    start = time.monotonic()
    problems_before = len(TOUR.problems)
    _open_app(pg, server)
    if _title(pg) != "Classical features":
        _go(pg, "Classical features", "Classical features")
    clicked = _click_section_and_listen(pg)
    url = pg.url
    mine = _map_view(pg)
    _screenshot(pg, "link-sender")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query, (
        f"the address of the Classical view is {url}: it has no query string, so a shared link cannot carry the library, "
        "the settings or the section (the app does not write the view into the URL yet: ui/links.py)"
    )
    expected = {
        "lib": "demo",
        "k": mine["k slider"],
        "method": "agglomerative" if mine["Method"] == "Agglomerative (hierarchical)" else None,
        "metric": "cosine" if mine["Distance"] == "Cosine (direction, not loudness)" else None,
        "section_seconds": "20",
    }
    wrong = {k: query.get(k) for k, v in expected.items() if v is not None and query.get(k) != [v]}
    section = query.get("section", [""])[0]
    if not re.fullmatch(rf"[0-9a-f]{{64}}:{clicked['section']}", section):
        wrong["section"] = query.get("section")
    assert not wrong, f"the address {url} does not carry the view: expected {expected} and section=<track id>:{clicked['section']}, got {wrong}"

    context, fresh = _new_visitor(browser)
    try:
        TOUR.where = "shared link (new visitor)"
        fresh.goto(url)
        fresh.wait_for_function("() => (document.querySelector('h1')?.innerText || '').trim() === 'Classical features'", timeout=CEILING_MS)
        fresh.locator(CLASSICAL_MAP).wait_for(timeout=CEILING_MS)
        _settle(fresh)
        _check_page(fresh, "opening the shared link")
        theirs = _map_view(fresh)
        _screenshot(fresh, "link-receiver")
        TOUR.did("opened the shared link in a new context")
    finally:
        context.close()
    differ = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
    TOUR.notes.append(f"shared link {url}: the sender sees {mine}")
    TOUR.seconds["shared link"] += time.monotonic() - start
    assert not differ, f"a new visitor opening {url} sees another view (field: (sender, new visitor)): {differ}"
    assert len(TOUR.problems) == problems_before, "the shared link found problems:\n" + "\n".join(TOUR.problems[problems_before:])
