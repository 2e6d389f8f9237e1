"""The spaces "similar" searches: classical, musicnn, fused (engine/analysis/spaces.py), from Python, the CLI and the app."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import pairwise_distances

from engine.analysis.scale import prepare
from engine.analysis.similar import nearest_sections
from engine.analysis.spaces import fit_projection, fuse_blocks, load_projection, space_prepared
from engine.cli.main import main
from engine.config import AnalysisConfig, ClusterConfig
from engine.errors import ParameterError
from engine.run.embedding import section_embeddings
from engine.store.core import Store

#: Share of the MP3 copies' sections whose nearest section from another file must be the
#: original's section at the same time, in the fused and invariant spaces.
MP3_HIT_FLOOR = 0.9
DEMO = ("tt1.ogg", "tt2.ogg", "tt3.ogg")


def test_fused_distance_is_the_weighted_mean_of_the_spaces_cosine_distances(rng):
    A, B = rng.normal(size=(30, 5)) * [1, 10, 100, 0.1, 3], rng.normal(size=(30, 40)) + 5
    F = fuse_blocks([A, B], [0.3, 0.7])
    np.testing.assert_allclose(np.linalg.norm(F, axis=1), 1.0)

    def z(X):
        return (X - X.mean(0)) / X.std(0)

    want = 0.3 * pairwise_distances(z(A), metric="cosine") + 0.7 * pairwise_distances(z(B), metric="cosine")
    np.testing.assert_allclose(pairwise_distances(F, metric="cosine"), want, atol=1e-9)
    with pytest.raises(ParameterError, match="same rows"):
        fuse_blocks([A, B[:3]], [1, 1])
    with pytest.raises(ParameterError, match="weights"):
        fuse_blocks([A, B], [0, 0])


def test_the_new_fields_keep_the_old_digest_at_their_defaults():
    old = ClusterConfig()
    assert ClusterConfig(space="classical", fused_weight=0.5).digest() == old.digest()
    assert ClusterConfig(space="fused").digest() != old.digest()
    assert ClusterConfig(space="fused", fused_weight=0.3).digest() != ClusterConfig(space="fused").digest()
    with pytest.raises(ParameterError, match="space"):
        ClusterConfig(space="vibes")
    with pytest.raises(ParameterError, match="fused_weight"):
        ClusterConfig(fused_weight=1.5)


@pytest.fixture(scope="module")
def mp3_store(tmp_path_factory, demo_dir):
    """Three demo loops and a 64 kbit/s MP3 of each, analysed with musicnn embeddings."""
    from pedalboard.io import AudioFile

    from engine.audio.decode import decode_file

    root = tmp_path_factory.mktemp("space")
    files = []
    for name in DEMO:
        y = decode_file(demo_dir / name).y
        copy = root / f"{name.split('.')[0]}_copy.mp3"
        with AudioFile(str(copy), "w", 44_100, 1, quality="64k") as f:
            f.write(y[None, :])
        files += [str(demo_dir / name), str(copy)]
    store = root / "store"
    assert main(["analyze", *files, "--out", str(store), "--quiet", "--embedding", "musicnn"]) == 0
    return store


def _tables(store_dir):
    store = Store(store_dir, create=False)
    analysis = store.last_config()
    table = store.load_sections(analysis)
    return table, section_embeddings(store, table, analysis=analysis)


def test_the_projection_draws_a_group_together_and_keeps_groups_apart(rng):
    centres = rng.normal(size=(20, 6)) * 3
    nuisance = np.zeros(6)
    nuisance[0] = 4.0  # what a "transformation" moves: one direction, far
    X = np.vstack([centres + k * nuisance + 0.05 * rng.normal(size=centres.shape) for k in (-1, 0, 1)])
    groups = np.tile(np.arange(20), 3)
    W = fit_projection(X, groups)
    for Y in (X, X @ W):
        D = pairwise_distances(Y)
        same = groups[:, None] == groups[None, :]
        np.fill_diagonal(same, False)
        ratio = D[same].mean() / D[~same & ~np.eye(len(X), dtype=bool)].mean()
        if Y is X:
            before = ratio
    assert ratio < before / 2  # the transformation's direction shrunk: copies sit together
    with pytest.raises(ParameterError):
        fit_projection(X, np.arange(len(X)))  # no group to learn from


@pytest.mark.parametrize("space", ["fused", "invariant"])
def test_the_space_finds_the_mp3_copy_of_each_section(mp3_store, space):
    table, emb = _tables(mp3_store)
    config = ClusterConfig(space=space, metric="cosine")
    copies = np.flatnonzero(table.meta["name"].str.contains("_copy").to_numpy())
    hits = []
    for row in copies:
        nb = nearest_sections(table, row=int(row), k=1, other_tracks=True, config=config, embeddings=emb)
        want = str(table.meta["name"].iloc[row]).replace("_copy.mp3", ".ogg")
        hits.append((nb.meta["name"].iloc[0], int(nb.meta["section"].iloc[0])) == (want, int(table.meta["section"].iloc[row])))
    assert len(hits) == 12 and np.mean(hits) >= MP3_HIT_FLOOR, hits


def test_spaces_from_python(mp3_store):
    table, emb = _tables(mp3_store)
    classical = space_prepared(table, config=ClusterConfig())
    np.testing.assert_array_equal(classical.X, prepare(table, config=ClusterConfig()).X)
    fused = space_prepared(table, config=ClusterConfig(space="fused"), embeddings=emb)
    assert fused.X.shape == (len(table), classical.X.shape[1] + emb.values.shape[1])
    np.testing.assert_allclose(np.linalg.norm(fused.X, axis=1), 1.0)
    invariant = space_prepared(table, config=ClusterConfig(space="invariant", features=("rmse",), scaler="minmax"), embeddings=emb)
    assert invariant.X.shape == fused.X.shape and invariant.names[: len(load_projection().classical)] == load_projection().classical
    with pytest.raises(ParameterError, match="embeddings"):
        space_prepared(table, config=ClusterConfig(space="musicnn"))
    with pytest.raises(ParameterError, match="use the fused space"):
        space_prepared(prepare(table, config=ClusterConfig(features=("rmse",))), config=ClusterConfig(space="invariant"), embeddings=emb)
    with pytest.raises(ParameterError, match="no musicnn embedding"):
        space_prepared(table, config=ClusterConfig(space="fused"), embeddings=emb.__class__(emb.meta.iloc[:3], emb.values[:3], emb.names, ""))


def test_cli_space_flag(mp3_store, tmp_path, capsys):
    args = ["similar", str(mp3_store), "--track", "tt1_copy", "--section", "1", "--k", "3", "--other-tracks", "--json"]
    assert main(args) == 0
    auto = json.loads(capsys.readouterr().out)
    assert auto["space"] == "invariant" and "auto" in auto["space_reason"]
    assert (auto["neighbours"][0]["name"], auto["neighbours"][0]["section"]) == ("tt1.ogg", 1)
    assert main([*args, "--space", "classical"]) == 0
    classical = json.loads(capsys.readouterr().out)
    assert classical["space"] == "classical" and classical["config_digest"] != auto["config_digest"]
    for space in ("musicnn", "fused"):
        assert main([*args, "--space", space]) == 0
        assert json.loads(capsys.readouterr().out)["space"] == space
    csv = tmp_path / "t.csv"
    table = Store(mp3_store, create=False).load_sections(AnalysisConfig())
    frame = pd.DataFrame(table.values, columns=table.names)
    frame.insert(0, "part", [f"part_{s}" for s in table.meta["section"]])
    frame.insert(0, "filename", table.meta["name"].to_numpy())
    frame.to_csv(csv, index=False)
    assert main(["similar", str(csv), "--track", "tt1", "--section", "1", "--space", "fused"]) == 2
    assert "needs the sections' musicnn embeddings" in capsys.readouterr().err
    assert main(["similar", str(csv), "--track", "tt1.ogg", "--section", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["space"] == "classical"


def test_similar_page_states_and_picks_its_space():
    from app_support import page_errors, run_page

    at = run_page("pages/5_Similar_sections.py")
    assert page_errors(at) == []
    box = at.selectbox(key="sim_space")
    assert box.value == "invariant" and {"Classical features", "Fused: features + musicnn"} <= set(box.options)
    assert any("Similar by: **Invariant" in c.value for c in at.caption)
    fused = at.dataframe[0].value
    box.set_value("classical").run()
    assert page_errors(at) == []
    assert any("Similar by: **Classical features**" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == len(fused)
