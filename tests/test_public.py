"""Public mode: private libraries, operator-named stores, quotas, the queue, eviction and no server path shown.

The engine's parts are tested directly (quotas, the queue, visitors'
spaces, the deployment settings). The app is tested as strangers would use
it: several sessions of one server (``AppTest`` runs each page as a new
session in this process, with public mode set in its secrets), each
trying every route into another visitor's music that a page offers: the
pages themselves, a page opened by its URL, crafted widget values, store
paths, and media URLs. The browser load test (``test_load``) repeats the
isolation checks with six real visitors at once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app_support import PAGES, RUN_TIMEOUT, data_dir, page_errors, wav_bytes
from conftest import CEILING_S, ROOT
from engine.config import DeploymentConfig, Quotas, deployment_from_mapping
from engine.errors import ParameterError, StoreError
from engine.run.queue import AnalysisQueue, Cancelled
from engine.run.quotas import Candidate, Usage, admit, audio_seconds
from engine.run.visitors import SpaceFile, VisitorSpaces, visitor_key

ALL_PAGES = (*PAGES, "pages/7_Mix.py")

# --------------------------------------------------------------------------- the deployment settings


def test_deployment_settings_come_from_the_secrets_section():
    cfg = deployment_from_mapping(
        {
            "mode": "public",
            "max_analyses": 3,
            "disk_budget_mb": 512,
            "grace_minutes": 30,
            "quotas": {"upload_files": 5, "upload_mb": 50, "total_mb": 100},
            "stores": {"techno": {"url": "s3://bucket/techno", "options": {"key": "K", "secret": "S"}}, "local": "/srv/crate"},
        }
    )
    assert cfg.public and cfg.max_analyses == 3 and cfg.disk_budget_bytes == 512 * 2**20 and cfg.grace_s == 1800
    assert cfg.quotas.upload_files == 5 and cfg.quotas.upload_bytes == 50 * 2**20 and cfg.quotas.total_bytes == 100 * 2**20
    assert cfg.store_named("techno").storage_options() == {"key": "K", "secret": "S"}
    assert cfg.store_named("local").url == "/srv/crate" and cfg.store_named("nope") is None
    # the secrets never show in a repr (a log line, an error page)
    assert "S3://" not in repr(cfg).upper() and "secret" not in repr(cfg.stores)
    # equal settings, equal digests (the options' key order does not matter)
    again = deployment_from_mapping({"grace_minutes": 30.0, "disk_budget_mb": 512, "max_analyses": 3, "mode": "public",
                                     "quotas": {"total_mb": 100, "upload_mb": 50, "upload_files": 5},
                                     "stores": {"techno": {"options": {"secret": "S", "key": "K"}, "url": "s3://bucket/techno"}, "local": "/srv/crate"}})
    assert again == cfg and again.digest() == cfg.digest()
    assert deployment_from_mapping({}) == DeploymentConfig() and not DeploymentConfig().public


@pytest.mark.parametrize(
    "bad",
    [{"mode": "open"}, {"colour": "red"}, {"quotas": {"upload_gb": 1}}, {"max_analyses": 0}, {"stores": {"x": {"url": ""}}},
     {"quotas": {"upload_files": 10, "total_files": 5}}],
)
def test_bad_deployment_settings_are_refused_with_the_key_named(bad):
    with pytest.raises(ParameterError):
        deployment_from_mapping(bad)


# --------------------------------------------------------------------------- quotas


def test_an_upload_is_taken_in_order_while_it_fits_and_each_refusal_says_why():
    q = Quotas(upload_files=3, upload_bytes=1000, upload_minutes=10, total_files=4, total_bytes=1500, total_minutes=12)
    files = [Candidate(f"f{i}.wav", 300, 120.0) for i in range(5)]
    got = admit(files, Usage(), q)
    assert [c.name for c in got.accepted] == ["f0.wav", "f1.wav", "f2.wav"]
    assert [n for n, _ in got.refused] == ["f3.wav", "f4.wav"] and "one upload may hold 3 files" in got.refused[0][1]
    assert got.usage == Usage(3, 900, 360.0)
    # what the visitor already holds counts towards the totals
    got = admit(files[:2], Usage(3, 900, 360.0), q)
    assert [c.name for c in got.accepted] == ["f0.wav"] and "your library may hold 4 files" in got.refused[0][1]
    got = admit([Candidate("big.wav", 700, 1.0), Candidate("small.wav", 10, 1.0)], Usage(1, 900, 0.0), q)
    assert [c.name for c in got.accepted] == ["small.wav"] and "MB at once" in got.refused[0][1]
    # a single file over the per-upload size or length, in words a visitor reads
    got = admit([Candidate("huge.wav", 2000, 1.0), Candidate("long.wav", 10, 11 * 60.0)], Usage(), q)
    assert not got.accepted
    assert "huge.wav was not added: it is" in got.refused[0][1] and "long.wav was not added: it is 11 minutes long" in got.refused[1][1]
    assert all("/" not in s for _, s in got.refused)
    # minutes in total
    got = admit([Candidate("a.wav", 10, 300.0)], Usage(1, 10, 600.0), q)
    assert not got.accepted and "minutes of audio at once" in got.refused[0][1]
    # the server's disk budget, told apart from the visitor's own quota
    got = admit([Candidate("a.wav", 100, 1.0), Candidate("b.wav", 100, 1.0)], Usage(), q, disk_room=150)
    assert [c.name for c in got.accepted] == ["a.wav"] and "server's disk" in got.refused[0][1]


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
def test_minutes_of_audio_are_read_from_the_header(fmt, subtype, tmp_path):
    import io

    y = 0.1 * np.sin(np.arange(22_050 * 7) * 0.05).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, y, 22_050, format=fmt, subtype=subtype)
    assert audio_seconds(buf.getvalue()) == pytest.approx(7.0, abs=0.1)
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(buf.getvalue())
    assert audio_seconds(str(path)) == pytest.approx(7.0, abs=0.1)
    assert audio_seconds(b"not audio at all" * 10) == 0.0


# --------------------------------------------------------------------------- the queue


def test_the_queue_runs_at_most_its_slots_first_come_first_served():
    q = AnalysisQueue(2)
    running, peak, started, places = [0], [0], [], {}
    lock = threading.Lock()
    gate = threading.Event()

    def visitor(i: int) -> None:
        def seen(place: int) -> None:
            places.setdefault(i, []).append(place)

        with q.turn(f"v{i}", on_wait=seen, poll_s=0.05):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                started.append(i)
            gate.wait(CEILING_S)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(6):
        t = threading.Thread(target=visitor, args=(i,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + CEILING_S  # join in a known order: each one queued before the next comes
        while sum(q.snapshot()) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    deadline = time.monotonic() + CEILING_S
    while not all(i in places for i in range(2, 6)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert q.snapshot() == (2, 4)
    assert [places[i][0] for i in range(2, 6)] == [1, 2, 3, 4]  # each waiting visitor is told their place
    gate.set()
    for t in threads:
        t.join(CEILING_S)
    assert peak[0] == 2 and sorted(started) == list(range(6))
    assert started[:2] == [0, 1] and started[2:] == [2, 3, 4, 5]
    assert q.wait_idle(CEILING_S) and q.snapshot() == (0, 0)


def test_a_visitor_who_leaves_the_queue_gives_up_their_place_and_runs_nothing():
    q = AnalysisQueue(1)
    hold = threading.Event()
    ran = []

    def first() -> None:
        with q.turn("first"):
            hold.wait(CEILING_S)

    t = threading.Thread(target=first)
    t.start()
    deadline = time.monotonic() + CEILING_S
    while q.snapshot()[0] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)

    class Gone(Exception):
        pass

    def leave(place: int) -> None:
        raise Gone  # as Streamlit stops the script of a session whose browser left

    with pytest.raises(Gone):
        with q.turn("leaver", on_wait=leave, poll_s=0.05):
            ran.append("leaver")
    with pytest.raises(Cancelled):
        with q.turn("cancelled", cancelled=lambda: True, poll_s=0.05):
            ran.append("cancelled")
    assert q.snapshot() == (1, 0) and ran == []  # neither still waits, nothing of theirs ran
    hold.set()
    t.join(CEILING_S)
    with q.turn("next"):
        ran.append("next")
    assert ran == ["next"]


def test_a_failed_analysis_frees_its_slot():
    q = AnalysisQueue(1)
    with pytest.raises(RuntimeError):
        with q.turn("a"):
            raise RuntimeError("decoder crashed")
    assert q.snapshot() == (0, 0)
    with q.turn("b") as ahead:
        assert ahead == 0


# --------------------------------------------------------------------------- visitors' spaces


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _fill(space, n_bytes: int, name: str = "a.wav") -> None:
    space.uploads.mkdir(parents=True, exist_ok=True)
    path = space.uploads / name
    path.write_bytes(b"x" * n_bytes)
    space.add([SpaceFile(path=str(path), name=name, bytes=n_bytes, seconds=1.0)])


def test_visitor_keys_name_no_one_and_differ_by_identity_and_login():
    k1 = visitor_key("https://accounts.example|123", signed_in=True, secret=b"s")
    assert k1 == visitor_key("https://accounts.example|123", signed_in=True, secret=b"s")
    assert k1.startswith("u-") and "123" not in k1 and "example" not in k1
    assert k1 != visitor_key("https://accounts.example|124", signed_in=True, secret=b"s")
    assert visitor_key("abc", signed_in=False, secret=b"s").startswith("a-")
    assert visitor_key("abc", signed_in=False, secret=b"s") != visitor_key("abc", signed_in=False, secret=b"t")


def test_an_anonymous_space_lasts_its_grace_time_and_a_signed_in_one_stays(tmp_path):
    clock = _Clock()
    spaces = VisitorSpaces(tmp_path, budget_bytes=10**9, grace_s=3600, clock=clock)
    anon = spaces.open("a-1", signed_in=False)
    user = spaces.open("u-1", signed_in=True)
    _fill(anon, 100)
    _fill(user, 100)
    assert spaces.open("a-1", signed_in=False).usage() == Usage(1, 100, 1.0)  # kept across opens (reruns, pages)
    clock.now += 3000
    assert spaces.sweep(active_s=60) == [] and anon.root.is_dir()  # within the grace time
    clock.now += 1000
    assert spaces.sweep(active_s=60) == ["a-1"]
    assert not anon.root.exists() and user.root.is_dir()
    assert spaces.open("u-1", signed_in=True).usage().files == 1  # the signed-in visitor's library is there next visit
    with pytest.raises(StoreError):
        spaces.open("../escape", signed_in=False)


def test_over_budget_the_least_recently_used_space_goes_first_never_one_in_use(tmp_path):
    clock = _Clock()
    spaces = VisitorSpaces(tmp_path, budget_bytes=2500, grace_s=10**9, clock=clock)
    for key in ("u-old", "a-mid", "a-new"):
        _fill(spaces.open(key, signed_in=key.startswith("u-")), 1000)
        clock.now += 100
    assert spaces.used_bytes() > spaces.budget_bytes
    removed = spaces.sweep(active={"a-new"}, active_s=50)
    assert removed == ["u-old"]  # least recently used first, signed in or not; a-new is in use
    assert sorted(s.key for s in spaces.spaces()) == ["a-mid", "a-new"]
    assert spaces.room() == max(0, 2500 - spaces.used_bytes())
    # everything in use: nothing is removed, and the room left is what new uploads are measured against
    spaces = VisitorSpaces(tmp_path, budget_bytes=10, grace_s=10**9, clock=clock)
    assert spaces.sweep(active={"a-mid", "a-new"}, active_s=0) == [] and spaces.room() == 0


def test_forgetting_removes_the_files(tmp_path):
    spaces = VisitorSpaces(tmp_path, budget_bytes=10**9, grace_s=60)
    space = spaces.open("a-x", signed_in=False)
    _fill(space, 10, "one.wav")
    _fill(space, 10, "two.wav")
    space.forget({str(space.uploads / "one.wav")})
    assert [f.name for f in spaces.open("a-x", signed_in=False).files] == ["two.wav"]
    space.forget()
    assert not any(space.uploads.iterdir()) and spaces.open("a-x", signed_in=False).usage() == Usage()


# --------------------------------------------------------------------------- the app in public mode


def _secrets(**extra) -> dict:
    base = {"mode": "public", "max_analyses": 2, "stores": {"shared crate": {"url": str(data_dir() / "store")}}}
    base.update(extra)
    return base


def _visitor(page: str = "pages/1_Library.py", **extra):
    """A new visitor (session) in public mode: the landing page, then ``page``."""
    from streamlit.testing.v1 import AppTest

    data_dir()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=RUN_TIMEOUT)
    at.secrets["cratemap"] = _secrets(**extra)
    at.run()
    assert page_errors(at) == []
    return at.switch_page(page).run()


def _upload(at, prefix: str, n: int = 3, seconds: float = 35.0, seed: int = 0):
    at.radio(key="_w_source").set_value("folder").run()
    files = [(f"{prefix}/{prefix}-track-{i}.wav", wav_bytes(seconds, seed=seed + i), "audio/wav") for i in range(n)]
    at.file_uploader[0].set_value(files).run()
    assert page_errors(at) == []
    return [f"{prefix}-track-{i}" for i in range(n)]


def _shown(at) -> str:
    """Everything the page sent the browser: every element's message, every table's cells."""
    out = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        if type(node).__name__ == "Dataframe":
            out.append(node.value.to_csv())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def _server_paths() -> list[str]:
    return [str(data_dir()), str(ROOT), "/tmp/", "visitors/"]


def _no_server_path(text: str) -> None:
    for p in _server_paths():
        assert p not in text, f"a server path ({p}) is shown"


def test_each_visitor_sees_only_their_own_music_on_every_page():
    alice = _visitor()
    mine = _upload(alice, "alpha", seed=10)
    bob = _visitor()
    theirs = _upload(bob, "bravo", seed=20)
    assert alice.dataframe[-1].value["track"].str.contains("alpha").all()
    # alice writes a review; it is hers alone
    alice.switch_page("pages/6_Review.py").run()
    alice.text_input(key="_w_reviewer").input("Alice").run()
    alice.radio(key="review_verdict").set_value("right").run()
    alice.button(key="review_save").click().run()
    assert any("Saved: right" in s.value for s in alice.success)
    for page in ALL_PAGES:
        for who, at, own, other in (("alice", alice, mine, theirs), ("bob", bob, theirs, mine)):
            at.switch_page(page).run()
            assert page_errors(at) == [], (who, page)
            shown = _shown(at)
            if page == "pages/1_Library.py":  # the check can see names: each visitor's own are listed
                assert all(name in shown for name in own), who
            assert not any(name in shown for name in other), f"{who} sees the other visitor's music on {page}"
            _no_server_path(shown)
            assert not at.get("audio") and "/media/" not in shown, f"{page} serves a media URL in public mode"
    bob.switch_page("pages/6_Review.py").run()
    assert "Alice" not in _shown(bob) and any("0 judgements" in c.value for c in bob.caption)
    # bob's download of every judgement is inside his page and holds none of alice's
    import base64
    import re

    link = re.search(r'download="cratemap-judgements.csv" href="data:text/csv;base64,([A-Za-z0-9+/=]+)"', _shown(bob).replace("\\", ""))
    assert link, "the judgements download is not inside the page"
    assert "Alice" not in base64.b64decode(link.group(1)).decode()


def test_a_page_opened_by_its_url_is_a_new_visitor_with_an_empty_library():
    """A page's URL opens a new session (AppTest cannot open a page file as the entry point
    of a multipage app, so the new session's first page is switched to at once)."""
    from streamlit.testing.v1 import AppTest

    alice = _visitor()
    secret_names = _upload(alice, "charlie", seed=30)
    for page in ("pages/1_Library.py", "pages/2_Classical_features.py", "pages/5_Similar_sections.py", "pages/6_Review.py"):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=RUN_TIMEOUT)
        at.secrets["cratemap"] = _secrets()
        at.session_state["source"] = "folder"  # even asking for "my upload", a new session has none
        at.run()
        at.switch_page(page).run()
        assert at.exception == []
        shown = _shown(at)
        assert not any(n in shown for n in secret_names), page
        _no_server_path(shown)


def test_crafted_values_open_no_store_but_the_operators():
    alice = _visitor()
    secret_names = _upload(alice, "delta", seed=40)
    import ui.deploy

    spaces_root = data_dir() / "visitors"
    alice_store = next(p for p in spaces_root.iterdir() if (p / "store").is_dir() and any((p / "uploads").rglob("delta-*")))
    crafted = [
        str(alice_store / "store"),
        str(data_dir() / "store"),
        str(spaces_root),
        f"../visitors/{alice_store.name}/store",
        "file://" + str(alice_store / "store"),
        "memory://anything",
        "s3://bucket/crate",
    ]
    for value in crafted:
        bob = _visitor()
        bob.session_state["source"] = "store"
        bob.session_state["store_url"] = value
        bob.run()
        shown = _shown(bob)
        assert not any(n in shown for n in secret_names), value
        _no_server_path(shown)
        assert bob.exception == []
        # the choice offered is the operator's list, and the value a page ends on is a name from it
        assert bob.session_state["store_url"] == "shared crate"
    # the operator's store opens by its name
    bob = _visitor()
    bob.radio(key="_w_source").set_value("store").run()
    assert [s.options for s in bob.selectbox if s.label == "Store"] == [["shared crate"]]
    from engine.config import AnalysisConfig
    from engine.run.pipeline import open_library
    from engine.store.core import Store

    held = open_library(Store(data_dir() / "store", create=False), config=AnalysisConfig())  # what the operator's store holds
    assert page_errors(bob) == [] and int(next(m.value for m in bob.metric if m.label == "Tracks")) == len(held.tracks) >= 11
    _no_server_path(_shown(bob))
    assert ui.deploy is not None


def test_an_upload_over_the_quota_keeps_what_fits_and_says_why():
    at = _visitor(quotas={"upload_files": 2, "total_files": 3})
    _upload(at, "echo", n=3, seed=50)
    assert [w.value for w in at.warning] == ["echo/echo-track-2.wav was not added: one upload may hold 2 files."]
    assert at.dataframe[-1].value["track"].tolist() == ["echo/echo-track-0.wav", "echo/echo-track-1.wav"]
    # a second upload adds to the library up to the total
    at.file_uploader[0].set_value([(f"more/foxtrot-{i}.wav", wav_bytes(20, seed=60 + i), "audio/wav") for i in range(2)]).run()
    assert page_errors(at) == []
    assert [w.value for w in at.warning] == ["more/foxtrot-1.wav was not added: your library may hold 3 files at once; remove some to add more."]
    assert len(at.dataframe[-1].value) == 3
    # removing the music frees it: the files leave the server
    at.button(key="forget_uploads").click().run()
    assert page_errors(at) == []
    assert not any("echo-track" in str(p) for p in (data_dir() / "visitors").rglob("*.wav"))


def test_a_broken_file_is_named_without_a_server_path():
    at = _visitor()
    at.radio(key="_w_source").set_value("files").run()
    at.file_uploader[0].set_value(
        [("golf.wav", wav_bytes(35, seed=70), "audio/wav"), ("hotel.wav", b"RIFF not a wave file at all" * 20, "audio/wav")]
    ).run()
    assert at.exception == []
    errors = at.dataframe[0].value
    assert errors["file"].tolist() == ["hotel.wav"]
    _no_server_path(_shown(at))


def test_messages_lose_server_paths_in_public_mode_only(monkeypatch):
    import ui.deploy as deploy

    where = str(data_dir() / "visitors" / "a-123" / "uploads" / "x.wav")
    monkeypatch.setenv("CRATEMAP_MODE", "public")
    shown = deploy.said(f"cannot decode {where}: bad header; also /usr/lib/python3/dist-packages/x.py")
    assert str(data_dir()) not in shown and "/usr/lib" not in shown and "bad header" in shown and "x.wav" in shown
    monkeypatch.setenv("CRATEMAP_MODE", "local")
    assert deploy.said(f"cannot decode {where}") == f"cannot decode {where}"


def test_a_visitor_waits_in_the_queue_and_leaving_gives_up_their_place():
    """Every slot of the server's queue is taken (held here, as by other visitors' analyses): a new
    visitor's upload waits; when their session ends (the run is stopped, as when a browser closes),
    their place is given up and nothing of theirs runs."""
    import ui.deploy

    at = _visitor(max_analyses=1)
    queue = ui.deploy._queue(1)  # the same server-wide queue the app uses (one per process and size)
    assert queue.snapshot() == (0, 0)
    release, held = threading.Event(), threading.Event()

    def other_visitor() -> None:
        with queue.turn("someone else"):
            held.set()
            release.wait(CEILING_S)

    t = threading.Thread(target=other_visitor)
    t.start()
    assert held.wait(CEILING_S)
    at.radio(key="_w_source").set_value("folder").run()
    at.file_uploader[0].set_value([("india/india-track-0.wav", wav_bytes(35, seed=80), "audio/wav")])
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=8)  # it waits its turn (the browser shows "number 1 in the queue"); then the session ends
    deadline = time.monotonic() + CEILING_S
    while queue.snapshot() != (1, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue.snapshot() == (1, 0), "the visitor who left still holds a place"
    release.set()
    t.join(CEILING_S)
    assert queue.snapshot() == (0, 0)
    # nothing of theirs was analysed: their space holds the upload, its store holds no track
    stores = [p / "store" for p in (data_dir() / "visitors").iterdir() if any((p / "uploads").rglob("india-*"))]
    assert len(stores) == 1 and not any(stores[0].rglob("*.parquet"))


def _signed_in(user: dict, page: str = "pages/1_Library.py"):
    from streamlit.testing.v1 import AppTest

    data_dir()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=RUN_TIMEOUT)
    at.secrets["cratemap"] = _secrets()
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32}
    at.user = {"is_logged_in": True, "iss": "https://id.example", **user}
    at.run()
    assert page_errors(at) == []
    return at.switch_page(page).run()


def test_a_signed_in_visitors_library_and_reviews_come_back_on_the_next_visit():
    kim = _signed_in({"sub": "kim-123", "email": "kim@example.com", "name": "Kim"})
    assert any("Signed in as **Kim**" in c.value for c in kim.sidebar.caption)
    names = _upload(kim, "juliet", seed=90)
    kim.switch_page("pages/6_Review.py").run()
    kim.text_input(key="_w_reviewer").input("Kim").run()
    kim.radio(key="review_verdict").set_value("unsure").run()
    kim.button(key="review_save").click().run()
    assert any("Saved: unsure" in s.value for s in kim.success)
    # a new visit (a new session) by the same identity: the library and the review are there
    again = _signed_in({"sub": "kim-123", "email": "kim@example.com", "name": "Kim"})
    again.radio(key="_w_source").set_value("folder").run()
    assert page_errors(again) == []
    assert sorted(again.dataframe[-1].value["track"]) == sorted(f"juliet/{n}.wav" for n in names)
    again.switch_page("pages/6_Review.py").run()
    assert any("1 judgements" in c.value for c in again.caption)
    # another identity sees neither
    lee = _signed_in({"sub": "lee-456", "email": "lee@example.com", "name": "Lee"})
    lee.radio(key="_w_source").set_value("folder").run()
    assert not any(n in _shown(lee) for n in names)
    lee.switch_page("pages/6_Review.py").run()
    assert "Kim" not in _shown(lee).replace("Signed in as", "")
