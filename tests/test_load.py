"""Six visitors at once on a public deployment: private libraries, a shared queue, bounded memory.

A load test, loopback only. The fixture prepares what an operator would: a data folder
with the demo library analysed into ``<data>/store`` by the CLI, a secrets file whose
``[cratemap]`` table puts the app in *public* mode (small quotas, ``max_analyses = 2``,
reviews in a real PostgreSQL), and ``streamlit run streamlit_app.py`` on a free loopback
port reading that file (``--secrets.files``).

Then six visitors -- six Playwright browser contexts of one headless Chromium, which
share no cookies or storage, so six Streamlit sessions -- each at the same time:

1. open Home and go to Library through the sidebar menu;
2. upload a folder of four generated WAVs of their own (``crate-v3/v3-kick-1.wav``...);
3. wait for its analysis (the server queues analyses: "number N in the queue");
4. open Classical features and wait for the clustered map (timed from the upload);
5. click a section on the map and get a player whose audio is a ``data:audio/`` URI;
6. open Review and save a judgement.

Checked all along: no visitor ever sees another's file names (page text, every ``src``
and ``href``), no ``/media/`` URL appears, no exception is drawn, and the server logs
no traceback; at the end PostgreSQL holds exactly six judgements of six owners. The
server's peak resident memory (it and its children, sampled every 0.2 s) must stay
under Community Cloud's 2.7 GB; the aim is 1.5 GB. Figures go to ``test-output/load.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app_support import wav_bytes
from conftest import CEILING_S, ROOT
from server_support import start_streamlit, stop_streamlit

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(2 * CEILING_S)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # six pages in one browser, most of them in the background while another acts: never throttle them
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
OUT = ROOT / "test-output"
VISITORS = 6
MAX_ANALYSES = 2  # analyses the server runs at once; the other visitors wait in its queue
TRACKS = ("kick", "snare", "pad", "bass")  # one folder of four files per visitor
TRACK_SECONDS = 25.0  # two 15 s sections each (a last section of at least half a section is kept)
WAIT_MS = CEILING_S * 1000  # the ceiling of any one wait in a browser
ALL_VISITORS_S = CEILING_S  # the ceiling of the six visitors' whole run, together
LIMIT_BYTES = int(2.7 * 2**30)  # Community Cloud's memory limit: the test fails above it
AIM_BYTES = int(1.5 * 2**30)  # what the deployment aims for: reported, not asserted
QUOTAS = {  # small, but above what a visitor here uploads (4 files, 100 s, about 4.4 MB)
    "upload_files": 8,
    "upload_mb": 20,
    "upload_minutes": 5,
    "total_files": 16,
    "total_mb": 40,
    "total_minutes": 10,
}


# --------------------------------------------------------------------------- the server


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_secrets(path: Path, *, reviews_url: str) -> Path:
    lines = [
        "[cratemap]",
        'mode = "public"',
        f"max_analyses = {MAX_ANALYSES}",
        "disk_budget_mb = 500",
        f"reviews_url = {_toml_str(reviews_url)}",
        "",
        "[cratemap.quotas]",
        *(f"{k} = {v}" for k, v in QUOTAS.items()),
        "",
    ]
    path.write_text("\n".join(lines))
    return path


class PeakMemory(threading.Thread):
    """The largest resident memory of a process and all its children together, sampled every ``every_s``."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        super().__init__(daemon=True, name="peak-memory")
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(pid)
        self.every_s = every_s
        self.peak = 0
        self.peak_processes = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def sample(self) -> None:
        ps = self._psutil
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except ps.NoSuchProcess:
            return
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                pass
        self.samples += 1
        if total > self.peak:
            self.peak, self.peak_processes = total, len(procs)

    def run(self) -> None:
        self.sample()
        while not self._stop_event.wait(self.every_s):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log_path: Path
    data: Path
    memory: PeakMemory

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def analyse_demo(store: Path) -> None:
    """The demo library analysed into the deployment's store, as an operator does at setup."""
    from engine.run.pipeline import DEMO_DIR

    done = subprocess.run(
        [sys.executable, "-m", "engine", "analyze", str(DEMO_DIR), "--out", str(store), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=CEILING_S,
    )
    assert done.returncode == 0, f"`python -m engine analyze` of the demo failed ({done.returncode}):\n{done.stderr[-3000:]}"


def start_server(data: Path, secrets: Path, log_path: Path) -> Server:
    """``streamlit run streamlit_app.py`` in public mode (the secrets alone say so); returns once it answers."""
    proc, url = start_streamlit(data, log_path, args=("--secrets.files", str(secrets)), env={"CRATEMAP_MODE": ""})
    memory = PeakMemory(proc.pid)
    memory.start()
    return Server(url=url, proc=proc, log_path=log_path, data=data, memory=memory)


@pytest.fixture(scope="module")
def server(tmp_path_factory, load_reviews_url):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed (make test installs it: apt-get install chromium chromium-driver)")
    pytest.importorskip("playwright.async_api")
    pytest.importorskip("psutil")
    OUT.mkdir(exist_ok=True)
    data = tmp_path_factory.mktemp("load-data")
    analyse_demo(data / "store")
    secrets = write_secrets(tmp_path_factory.mktemp("load-secrets") / "secrets.toml", reviews_url=load_reviews_url)
    srv = start_server(data, secrets, OUT / "load-server.log")
    try:
        yield srv
    finally:
        srv.memory.stop()
        stop_streamlit(srv.proc)


@pytest.fixture(scope="module")
def load_reviews_url(postgres_url):
    """A new, empty database of the session's PostgreSQL for this module (so exactly its judgements are counted)."""
    import pg_support

    url = pg_support.fresh_database(postgres_url)
    yield url
    pg_support.drop_database(postgres_url, url)


# --------------------------------------------------------------------------- the visitors' music


def visitor_files(i: int) -> list[str]:
    return [f"v{i}-{t}-{j + 1}.wav" for j, t in enumerate(TRACKS)]


def visitor_words(i: int) -> list[str]:
    """Every string that names visitor ``i``'s music: the folder and each file name, with and without extension."""
    names = visitor_files(i)
    return [f"crate-v{i}", *names, *(n.rsplit(".", 1)[0] for n in names)]


def write_crate(root: Path, i: int) -> Path:
    folder = root / f"crate-v{i}"
    folder.mkdir(parents=True)
    for j, name in enumerate(visitor_files(i)):
        (folder / name).write_bytes(wav_bytes(TRACK_SECONDS, seed=10 * i + j))
    return folder


# --------------------------------------------------------------------------- in the browser

#: Installed in every page before Streamlit loads: it watches everything the page ever
#: draws, so an exception, a /media/ URL or another visitor's name that shows for a moment
#: between two checks is still caught; it also notes the places in the queue it was shown.
WATCH_JS = r"""
(forbidden) => {
  const MEDIA = /(?<!\/static)\/media\//;  // Streamlit's media endpoint (its own fonts under ./static/media/ are no file of anyone's)
  const seen = {exceptions: [], media: [], leaks: [], places: []};
  window.__cratemapWatch = seen;
  const note = (list, item) => { if (list.length < 20 && !list.includes(item)) list.push(item); };
  const text = (s, where) => {
    if (!s) return;
    for (const w of forbidden) if (s.includes(w)) note(seen.leaks, `${w} in ${where}`);
    for (const m of s.matchAll(/number (\d+) in the queue/g)) note(seen.places, `${m[1]} (${decodeURIComponent(location.pathname.split('/').pop()) || 'Home'})`);
  };
  const attr = (el, name) => {
    const v = el.getAttribute && el.getAttribute(name);
    if (!v) return;
    if (MEDIA.test(v)) note(seen.media, `${el.tagName.toLowerCase()} ${name}=${v.slice(0, 120)}`);
    for (const w of forbidden) if (v.includes(w)) note(seen.leaks, `${w} in ${el.tagName.toLowerCase()} ${name}`);
  };
  const element = (el) => {
    if (el.nodeType === Node.TEXT_NODE) { text(el.data, 'text'); return; }
    if (el.nodeType !== Node.ELEMENT_NODE) return;
    text(el.textContent, 'text');
    for (const e of [el, ...el.querySelectorAll('[src],[href],[data-testid="stException"]')]) {
      attr(e, 'src'); attr(e, 'href');
      if (e.getAttribute('data-testid') === 'stException') note(seen.exceptions, (e.innerText || e.textContent || '').slice(0, 500));
    }
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'childList') r.addedNodes.forEach(element);
      else if (r.type === 'characterData') text(r.target.data, 'text');
      else if (r.type === 'attributes') attr(r.target, r.attributeName);
    }
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['src', 'href']});
}
"""

#: What is on the page right now: the words of other visitors it shows, /media/ URLs, exceptions.
CHECK_JS = r"""
(forbidden) => {
  const MEDIA = /(?<!\/static)\/media\//;
  const body = document.body ? document.body.innerText : '';
  const leaks = forbidden.filter(w => body.includes(w)).map(w => `${w} in the page text`);
  const media = [];
  for (const e of document.querySelectorAll('[src],[href]')) {
    for (const name of ['src', 'href']) {
      const v = e.getAttribute(name);
      if (!v) continue;
      if (MEDIA.test(v)) media.push(`${e.tagName.toLowerCase()} ${name}=${v.slice(0, 120)}`);
      for (const w of forbidden) if (v.includes(w)) leaks.push(`${w} in ${e.tagName.toLowerCase()} ${name}`);
    }
  }
  const exceptions = [...document.querySelectorAll('[data-testid="stException"]')].map(e => e.innerText.slice(0, 500));
  return {leaks, media, exceptions, watched: window.__cratemapWatch || null, title: document.querySelector('h1')?.innerText || ''};
}
"""

SETTLED_JS = (
    "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning'"
    " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    " && !document.querySelector('[data-testid=\"stSpinner\"]')"
    " && !document.querySelector('[data-testid=\"stExpanderIconSpinner\"]')"
    " && !document.querySelector('[data-testid=\"stSkeleton\"]')"
    " && [...document.querySelectorAll('.js-plotly-plot')].every(gd => gd._fullLayout && gd._fullData)"
)

MAP = ".st-key-classical_map .js-plotly-plot"
#: Where a section point is drawn on the map, and which section it is: the first one that no
#: other mark (a cluster centre, another section) sits within 12 px of, so a click hits it alone.
POINT_JS = r"""
(sel) => {
  const gd = document.querySelector(sel);
  const fl = gd._fullLayout, box = gd.getBoundingClientRect();
  const at = (t, j) => ({x: box.left + fl._size.l + fl.xaxis.l2p(t.x[j]), y: box.top + fl._size.t + fl.yaxis.l2p(t.y[j])});
  const marks = [], sections = [];
  for (const t of gd._fullData) {
    for (let j = 0; j < (t.x || []).length; j++) {
      const m = at(t, j);
      marks.push(m);
      if (t.customdata?.[j]?.length >= 6)  // a cluster's section (centres and the playing ring carry less)
        sections.push({...m, mark: m, name: String(t.customdata[j][1]), section: String(t.customdata[j][2])});
    }
  }
  const alone = (p) => marks.every(m => m === p.mark || Math.hypot(m.x - p.x, m.y - p.y) > 12);
  const {mark, ...point} = sections.find(alone) || sections[0];
  return point;
}
"""
TABLE_COLUMN = b"sample rate (Hz)"  # a column only the Library's tracks table has


async def settle(pg) -> None:
    """Wait until Streamlit has finished running the page (as tests/test_browser.py's ``_settle``)."""
    await pg.wait_for_function(SETTLED_JS, timeout=WAIT_MS)


async def wait_text(pg, *needles: str) -> None:
    """Wait until the page's text holds every one of ``needles``."""
    await pg.wait_for_function(
        "(needles) => document.body && needles.every(n => document.body.innerText.includes(n))", arg=list(needles), timeout=WAIT_MS
    )


async def open_page(pg, label: str) -> None:
    """Go to the view ``label`` through the sidebar menu and wait until it has run."""
    link = pg.locator('[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]').filter(has=pg.get_by_text(label, exact=True))
    await link.first.click(timeout=WAIT_MS)
    await pg.wait_for_function(
        "(t) => (document.querySelector('h1')?.innerText || '').trim() === t", arg=label, timeout=WAIT_MS
    )
    await settle(pg)


@dataclass
class Visit:
    """What one visitor did and saw."""

    i: int
    step: str = "not started"
    upload: str = ""  # how the music went up: "folder" or "files"
    upload_to_tracks_s: float | None = None
    upload_to_map_s: float | None = None
    queue_places: list[str] = field(default_factory=list)  # "2 (Library)": place shown, on which page
    pages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # any one fails the test
    notes: list[str] = field(default_factory=list)  # reported, not failures
    clicked: str = ""
    review: str = ""


async def check(pg, visit: Visit, forbidden: list[str], where: str) -> None:
    """Record (never raise) what the page shows that it must not."""
    found = await pg.evaluate(CHECK_JS, forbidden)
    visit.pages.append(where)
    for kind in ("leaks", "media", "exceptions"):
        for item in found[kind]:
            visit.problems.append(f"{where}: {kind[:-1] if kind != 'media' else '/media/ URL'}: {item}")


async def run_visitor(browser, base_url: str, visit: Visit, folder: Path) -> None:
    i = visit.i
    own = visitor_files(i)
    forbidden = [w for k in range(1, VISITORS + 1) if k != i for w in visitor_words(k)]
    context = await browser.new_context(viewport={"width": 1440, "height": 1800})
    await context.add_init_script(script=f"({WATCH_JS})({json.dumps(forbidden)})")
    pg = await context.new_page()
    pg.set_default_timeout(WAIT_MS)
    # What the server sends this visitor, read off its WebSocket: the tracks table is drawn on a canvas,
    # so its rows are in no page text; every frame is searched for the other visitors' names too.
    forbidden_bytes = [w.encode() for w in forbidden]
    table_frames: list[bytes] = []
    sent: set[bytes] = set()  # each word is reported once, at the step it first came

    def on_frame(payload: bytes | str) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        for w in forbidden_bytes:
            if w in data and w not in sent:
                sent.add(w)
                visit.problems.append(f"{w.decode()} in a message the server sent (first at step {visit.step!r})")
        if TABLE_COLUMN in data:
            table_frames.append(data)

    pg.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    try:
        visit.step = "open Home"
        await pg.goto(base_url + "/", timeout=WAIT_MS)
        await pg.wait_for_function("() => (document.querySelector('h1')?.innerText || '').trim() === 'CrateMap'", timeout=WAIT_MS)
        await settle(pg)
        await check(pg, visit, forbidden, "Home")

        visit.step = "open Library"
        await open_page(pg, "Library")
        await check(pg, visit, forbidden, "Library")

        visit.step = "upload a folder"
        await pg.get_by_text("Upload a folder", exact=True).click()
        uploader = pg.locator('[data-testid="stFileUploaderDropzoneInput"]')
        await uploader.wait_for(state="attached", timeout=WAIT_MS)
        await settle(pg)
        started = time.monotonic()
        try:
            await uploader.set_input_files(str(folder), timeout=WAIT_MS)
            visit.upload = "folder"
        except Exception as exc:  # noqa: BLE001 - a browser that cannot give a folder: the files one by one
            visit.notes.append(f"the folder upload was refused ({type(exc).__name__}: {str(exc)[:200]}); the files went up one by one")
            await pg.get_by_text("Upload single files", exact=True).click()
            await settle(pg)
            uploader = pg.locator('[data-testid="stFileUploaderDropzoneInput"]')
            started = time.monotonic()
            await uploader.set_input_files([str(folder / n) for n in own], timeout=WAIT_MS)
            visit.upload = "files"

        visit.step = "wait for the analysis"
        await wait_text(pg, f"Tracks ({len(own)})")
        await settle(pg)
        visit.upload_to_tracks_s = time.monotonic() - started
        assert table_frames, f"visitor {i}: the page says Tracks ({len(own)}) but no tracks table reached the browser"
        missing = [n for n in own if n.encode() not in table_frames[-1]]
        assert not missing, f"visitor {i}'s tracks table lacks {missing}"
        await check(pg, visit, forbidden, "Library, analysed")

        visit.step = "open Classical features"
        await open_page(pg, "Classical features")
        await pg.wait_for_selector(MAP, timeout=WAIT_MS)
        await settle(pg)
        visit.upload_to_map_s = time.monotonic() - started
        await check(pg, visit, forbidden, "Classical features")
        names_on_map = await pg.evaluate(
            "(sel) => [...new Set(document.querySelector(sel)._fullData.filter(t => t.customdata?.[0]?.length >= 6)"
            "  .flatMap(t => [...t.customdata].map(c => String(c[1]))))]",
            MAP,
        )
        strays = [n for n in names_on_map if not any(o in n for o in own)]
        assert names_on_map and not strays, f"the map of visitor {i} shows sections of other tracks: {strays} (all: {names_on_map})"

        visit.step = "click a section on the map"
        point = await pg.evaluate(POINT_JS, MAP)
        await pg.mouse.click(point["x"], point["y"])
        audio = pg.locator(".st-key-listen_panel audio")
        await audio.first.wait_for(state="attached", timeout=WAIT_MS)
        await settle(pg)
        heading = await pg.locator(".st-key-listen_panel").inner_text()
        assert point["name"] in heading and f"section {point['section']}" in heading, (
            f"visitor {i} clicked {point['name']} section {point['section']} but the player shows: {heading[:300]!r}"
        )
        src = await audio.first.get_attribute("src") or ""
        assert src.startswith("data:audio/"), f"visitor {i}'s player plays {src[:80]!r}, not a data:audio/ URI"
        visit.clicked = f"{point['name']} section {point['section']}"
        await check(pg, visit, forbidden, "Classical features, playing")

        visit.step = "open Review"
        await open_page(pg, "Review")
        await check(pg, visit, forbidden, "Review")

        visit.step = "write a review"
        name_box = pg.get_by_label("Your name")
        await name_box.fill(f"Visitor {i}")
        await name_box.press("Enter")
        await pg.get_by_text("Is this section in the right cluster?").wait_for(timeout=WAIT_MS)
        await settle(pg)
        review_src = await pg.locator("audio").first.get_attribute("src") or ""
        assert review_src.startswith("data:audio/"), f"visitor {i}'s review player plays {review_src[:80]!r}"
        await pg.get_by_text("Yes, it belongs there", exact=True).click()
        await settle(pg)
        await pg.get_by_role("button", name="Save and next").click()
        saved = pg.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="Saved: right for")
        await saved.first.wait_for(timeout=WAIT_MS)
        await settle(pg)
        visit.review = (await saved.first.inner_text()).strip()
        assert any(o.rsplit(".", 1)[0] in visit.review for o in own), f"visitor {i} saved a judgement of another's track: {visit.review!r}"
        await check(pg, visit, forbidden, "Review, saved")
        # the next section starts with no answer chosen (the last one's must not carry over)
        chosen = await pg.locator('[data-testid="stRadio"]').filter(has_text="Is this section in the right cluster?").locator("input:checked").count()
        assert chosen == 0, f"visitor {i}: the next section shows the last answer already chosen"

        visit.step = "done"
        watched = await pg.evaluate("() => window.__cratemapWatch")
        visit.queue_places = list(watched["places"])
        for kind, what in (("leaks", "leak"), ("media", "/media/ URL"), ("exceptions", "exception")):
            for item in watched[kind]:
                visit.problems.append(f"seen while the page changed: {what}: {item}")
        await pg.screenshot(path=str(OUT / f"load-v{i}.png"), full_page=True)
    except BaseException as exc:
        visit.problems.append(f"failed at step {visit.step!r}: {type(exc).__name__}: {str(exc)[:1500]}")
        try:
            await pg.screenshot(path=str(OUT / f"load-v{i}-failure.png"), full_page=True, timeout=30_000)
        except Exception:  # noqa: BLE001 - the screenshot is a courtesy; the failure is already recorded
            pass
        raise
    finally:
        await context.close()


async def run_visitors(base_url: str, visits: list[Visit], folders: dict[int, Path]) -> list[BaseException | None]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            tasks = [asyncio.create_task(run_visitor(browser, base_url, v, folders[v.i])) for v in visits]
            done, pending = await asyncio.wait(tasks, timeout=ALL_VISITORS_S)
            for t in pending:  # over the ceiling: each unfinished visitor takes its failure screenshot as it is cancelled
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for t, v in zip(tasks, visits):
                if t in pending:
                    v.problems.append(f"not finished within {ALL_VISITORS_S} s (last step: {v.step!r})")
            return [None if t in pending or t.cancelled() else t.exception() for t in tasks]
        finally:
            await browser.close()


# --------------------------------------------------------------------------- the test


def _judgements(url: str) -> list[tuple[str, str, str]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text("SELECT owner, reviewer, name FROM judgements ORDER BY id"))]
    finally:
        engine.dispose()


def _secs(s: float | None) -> str:
    return "-" if s is None else f"{s:.1f} s"


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB"


def test_six_visitors_at_once(server, load_reviews_url, tmp_path):
    t0 = time.monotonic()
    folders = {i: write_crate(tmp_path / f"visitor-{i}", i) for i in range(1, VISITORS + 1)}
    visits = [Visit(i) for i in folders]
    errors = asyncio.run(run_visitors(server.url, visits, folders))
    visitors_s = time.monotonic() - t0
    server.memory.sample()  # one last sample before the figures are read
    peak = server.memory.peak

    # ------------------------------------------------------------------ the figures
    figures = {
        "visitors": VISITORS,
        "max_analyses": MAX_ANALYSES,
        "tracks_per_visitor": len(TRACKS),
        "track_seconds": TRACK_SECONDS,
        "peak_rss_bytes": peak,
        "peak_rss_gb": round(peak / 2**30, 3),
        "peak_rss_processes": server.memory.peak_processes,
        "memory_samples": server.memory.samples,
        "limit_gb": round(LIMIT_BYTES / 2**30, 2),
        "aim_gb": round(AIM_BYTES / 2**30, 2),
        "aim_met": peak < AIM_BYTES,
        "visitors_wall_s": round(visitors_s, 1),
        "per_visitor": [
            {
                "visitor": v.i,
                "upload": v.upload,
                "upload_to_tracks_s": None if v.upload_to_tracks_s is None else round(v.upload_to_tracks_s, 1),
                "upload_to_map_s": None if v.upload_to_map_s is None else round(v.upload_to_map_s, 1),
                "queue_places_seen": v.queue_places,
                "clicked": v.clicked,
                "review": v.review,
                "pages_checked": len(v.pages),
                "last_step": v.step,
                "problems": v.problems,
                "notes": v.notes,
            }
            for v in visits
        ],
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nLoad test: {VISITORS} visitors at once, {len(TRACKS)} tracks of {TRACK_SECONDS:.0f} s each, max_analyses = {MAX_ANALYSES}")
    print(f"{'visitor':>7}  {'upload':>6}  {'to tracks':>9}  {'to map':>7}  {'last step':>9}  places shown in the queue (page)")
    for v in visits:
        print(f"{v.i:>7}  {v.upload or '-':>6}  {_secs(v.upload_to_tracks_s):>9}  {_secs(v.upload_to_map_s):>7}  "
              f"{v.step:>9}  {', '.join(v.queue_places) or '-'}")
    print(f"server peak resident memory: {_gb(peak)} ({server.memory.peak_processes} processes, {server.memory.samples} samples); "
          f"limit {_gb(LIMIT_BYTES)}; aim {_gb(AIM_BYTES)}: {'met' if peak < AIM_BYTES else 'NOT met'}")
    for v in visits:
        for n in v.notes:
            print(f"visitor {v.i}: {n}")
    print(f"the six visitors took {visitors_s:.0f} s together; figures in {OUT / 'load.json'}")

    # ------------------------------------------------------------------ the checks
    problems = [f"visitor {v.i}: {p}" for v in visits for p in v.problems]
    for v, err in zip(visits, errors):
        if err is not None and not any("failed at step" in p for p in v.problems):
            problems.append(f"visitor {v.i}: {type(err).__name__}: {err}")
    assert not problems, "the visitors met problems (screenshots in test-output/load-v*-failure.png):\n" + "\n".join(problems)
    assert all(v.step == "done" for v in visits), {v.i: v.step for v in visits}

    log = server.log_text()
    assert "Traceback" not in log, f"the server logged a traceback (see {server.log_path}):\n{log[max(0, log.index('Traceback') - 500):][:4000]}"
    assert server.proc.poll() is None, f"the server stopped during the test (exit {server.proc.returncode}); see {server.log_path}"

    rows = _judgements(load_reviews_url)
    assert len(rows) == VISITORS, f"PostgreSQL holds {len(rows)} judgements, not {VISITORS}: {rows}"
    owners = {owner for owner, _, _ in rows}
    assert len(owners) == VISITORS and "" not in owners, f"the judgements have {len(owners)} distinct owners, not {VISITORS}: {sorted(owners)}"
    for owner, reviewer, name in rows:  # each judgement is of the reviewer's own music
        i = int(reviewer.split()[-1])
        assert f"v{i}-" in name, f"{reviewer} judged {name!r}, which is not in their folder"
    assert len({reviewer for _, reviewer, _ in rows}) == VISITORS

    assert peak < LIMIT_BYTES, f"the server's peak resident memory {_gb(peak)} is over Community Cloud's {_gb(LIMIT_BYTES)}"
