"""Grad-CAM per cluster, for musicnn, msd-vgg and VGGish (VGGish with weights the test writes itself)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.neural import embed, gradcam, vggish
from engine.config import EmbedConfig
from engine.errors import ParameterError

REF_INPUTS = Path(__file__).resolve().parent / "data" / "musicnn" / "inputs.npz"
SIGNALS = ("kick_hat_chord", "synth_pad", "noise_bursts")


@pytest.fixture(scope="module")
def pieces() -> tuple[np.ndarray, np.ndarray]:
    """Nine 3-s patches, three from each reference signal, labelled by signal."""
    ref = np.load(REF_INPUTS)
    inputs = [embed.model_inputs(ref[s], sample_rate=16_000, model="musicnn")[0] for s in SIGNALS]
    return np.concatenate(inputs), np.repeat(np.arange(3), [len(x) for x in inputs])


def test_project_spreads_a_column_over_the_bins_it_sees():
    cam = torch.zeros(1, 2, 96 - 38 + 1)
    cam[0, 1, 10] = 1.0
    out = gradcam._project(cam, 38, (2, 96))
    assert out.shape == (1, 2, 96)
    assert torch.count_nonzero(out[0, 0]) == 0
    nonzero = torch.nonzero(out[0, 1])[:, 0]
    assert nonzero.min() == 10 and nonzero.max() == 10 + 37
    resized = gradcam._project(torch.ones(1, 11, 6), 0, (187, 96))
    assert resized.shape == (1, 187, 96) and torch.allclose(resized, torch.ones(1, 187, 96))


def test_musicnn_heat_maps(pieces):
    inputs, labels = pieces
    cfg = EmbedConfig()
    emb, _ = embed.embed_inputs(inputs, net=embed.load_model(cfg))
    centroid = emb[labels == 1].mean(axis=0)
    heat, sim = gradcam.gradcam(inputs[:4], centroid, config=cfg)
    assert heat.shape == (4, 187, 96) and heat.dtype == np.float32
    assert heat.min() >= 0 and np.allclose(heat.max(axis=(1, 2)), 1.0)
    expected = emb[:4] @ centroid / np.linalg.norm(emb[:4], axis=1) / np.linalg.norm(centroid)
    np.testing.assert_allclose(sim, expected, atol=1e-5)  # the target really is the cosine similarity


def test_pieces_do_not_affect_each_other(pieces):
    inputs, _ = pieces
    cfg = EmbedConfig(model="musicnn-mtt")
    target = np.random.default_rng(0).normal(size=200).astype(np.float32)
    together, _ = gradcam.gradcam(inputs[:3], target, config=cfg, batch_size=3)
    alone = np.concatenate([gradcam.gradcam(inputs[i : i + 1], target, config=cfg)[0] for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_heat_depends_on_the_target(pieces):
    inputs, labels = pieces
    cfg = EmbedConfig()
    emb, _ = embed.embed_inputs(inputs, net=embed.load_model(cfg))
    towards_pad, _ = gradcam.gradcam(inputs[:1], emb[labels == 1].mean(0), config=cfg)
    towards_noise, _ = gradcam.gradcam(inputs[:1], emb[labels == 2].mean(0), config=cfg)
    assert np.abs(towards_pad - towards_noise).max() > 0.1


def test_cluster_heatmaps_sample_cap_and_means(pieces):
    inputs, labels = pieces
    cfg = EmbedConfig(model="msd-vgg")
    maps = gradcam.cluster_heatmaps(inputs, labels, config=cfg, max_per_cluster=2, seed=3)
    assert sorted(maps) == [0, 1, 2]
    for label, m in maps.items():
        assert m.n_members == 3 and m.members.size == 2 and (labels[m.members] == label).all()
        assert m.heat.shape == m.mean_input.shape == (187, 96)
        np.testing.assert_allclose(m.mean_input, inputs[m.members].mean(axis=0), rtol=1e-6)
        assert 0 < m.heat.max() <= 1 and -1 <= m.similarity <= 1
    again = gradcam.cluster_heatmaps(inputs, labels, config=cfg, max_per_cluster=2, seed=3)
    assert all(np.array_equal(maps[k].members, again[k].members) for k in maps)
    np.testing.assert_allclose(maps[0].heat, again[0].heat, atol=1e-6)


def test_members_are_more_like_their_own_centroid(pieces):
    inputs, labels = pieces
    cfg = EmbedConfig()
    emb, _ = embed.embed_inputs(inputs, net=embed.load_model(cfg))
    own = gradcam.cluster_heatmaps(inputs[labels == 0], labels[labels == 0], config=cfg, embeddings=emb[labels == 0])
    other = gradcam.gradcam(inputs[labels == 0], emb[labels == 2].mean(0), config=cfg)[1].mean()
    assert own[0].similarity > other


def test_explicit_centroids_and_validation(pieces):
    inputs, labels = pieces
    cfg = EmbedConfig()
    with pytest.raises(ParameterError, match="no centroid for cluster 2"):
        gradcam.cluster_heatmaps(inputs, labels, config=cfg, centroids={0: np.ones(200), 1: np.ones(200)})
    with pytest.raises(ParameterError, match="targets have 5 dimensions"):
        gradcam.gradcam(inputs[:2], np.ones(5), config=cfg)
    with pytest.raises(ParameterError, match="max_per_cluster"):
        gradcam.cluster_heatmaps(inputs, labels, config=cfg, max_per_cluster=0)
    with pytest.raises(ParameterError, match="inputs must have shape"):
        gradcam.gradcam(np.zeros((2, 96, 64)), np.ones(200), config=cfg)


def test_vggish_heat_maps_with_test_weights(tmp_path, monkeypatch):
    # noise weights written by the test: this checks the mechanics (hooks, shapes), not what VGGish sees
    torch.manual_seed(0)
    path = tmp_path / "vggish-test.pth"
    torch.save({k: torch.randn_like(v) * 0.05 for k, v in vggish.build().state_dict().items()}, path)
    monkeypatch.setenv(vggish.ENV_WEIGHTS, str(path))
    cfg = EmbedConfig(model="vggish")
    y = np.random.default_rng(1).normal(0, 0.1, 16_000 * 3).astype(np.float32)
    inputs, _, _ = embed.model_inputs(y, sample_rate=16_000, model="vggish")
    maps = gradcam.cluster_heatmaps(inputs, np.array([0, 0, 1]), config=cfg)
    assert maps[0].heat.shape == maps[0].mean_input.shape == (96, 64)
    assert maps[0].n_members == 2 and maps[1].n_members == 1
    assert np.isfinite(maps[0].heat).all() and maps[0].heat.max() <= 1
