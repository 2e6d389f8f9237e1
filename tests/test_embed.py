"""engine.neural.embed: piece embeddings from audio, pooling to sections, tags that describe clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from engine.neural import embed, musicnn
from engine.neural.tags import cluster_tags, describe_clusters
from engine.config import EmbedConfig
from engine.errors import ParameterError
from engine.records import PieceEmbeddings

DEMO = Path(__file__).resolve().parents[1] / "demo"
REF_INPUTS = Path(__file__).resolve().parent / "data" / "musicnn" / "inputs.npz"


def _demo(name: str, seconds: float) -> tuple[np.ndarray, int]:
    info = sf.info(DEMO / name)
    y, sr = sf.read(DEMO / name, dtype="float32", frames=int(seconds * info.samplerate), always_2d=True)
    return y.mean(axis=1), sr


@pytest.fixture(scope="module")
def tt1_16k() -> np.ndarray:
    y, sr = _demo("tt1.ogg", 30.0)
    return soxr.resample(y, sr, 16_000, quality="HQ").astype(np.float32)


@pytest.fixture(scope="module")
def tt1_musicnn(tt1_16k) -> PieceEmbeddings:
    return embed.embed(tt1_16k, sample_rate=16_000, config=EmbedConfig(batch_size=4), track_id="tt1")


def test_musicnn_record_on_a_demo_track(tt1_musicnn):
    e = tt1_musicnn
    # 30 s -> 1876 frames -> 10 whole 187-frame patches, 2.992 s apart
    assert e.n_pieces == 10 and e.dim == 200 and e.embeddings.dtype == np.float32
    np.testing.assert_allclose(e.start_s, np.arange(10) * 2.992)
    np.testing.assert_allclose(e.end_s, np.arange(1, 11) * 2.992)
    assert e.tags.shape == (10, 50) and ((e.tags > 0) & (e.tags < 1)).all()
    assert e.tag_names == musicnn.load("MSD_musicnn").tags and e.tag_names[0] == "rock"
    assert e.weights_sha256 == musicnn.MODELS["MSD_musicnn"].sha256
    assert Path(e.weights_file).name == "MSD_musicnn.safetensors"
    assert e.config_digest == EmbedConfig(batch_size=4).digest() and e.track_id == "tt1"
    assert e.layer == "penultimate" and e.postprocess_file == ""


def test_batch_size_does_not_change_results(tt1_16k, tt1_musicnn):
    one = embed.embed(tt1_16k[: 16_000 * 12], sample_rate=16_000, config=EmbedConfig(batch_size=1), track_id="t")
    np.testing.assert_allclose(one.embeddings, tt1_musicnn.embeddings[:4], rtol=0, atol=1e-4)
    np.testing.assert_allclose(one.tags, tt1_musicnn.tags[:4], rtol=0, atol=1e-5)


def test_resampling_happens_inside(tt1_16k):
    y, sr = _demo("tt1.ogg", 9.0)
    native = embed.embed(y, sample_rate=sr, config=EmbedConfig(), track_id="t")
    ready = embed.embed(tt1_16k[: 9 * 16_000], sample_rate=16_000, config=EmbedConfig(), track_id="t")
    assert native.n_pieces == ready.n_pieces == 3
    np.testing.assert_allclose(native.embeddings, ready.embeddings, atol=1e-3)


@pytest.mark.parametrize(
    ("model", "layer", "dim"),
    [("musicnn", "mean_pool", 753), ("musicnn-mtt", "max_pool", 753), ("musicnn-mtt", "penultimate", 200), ("msd-vgg", "penultimate", 256)],
)
def test_models_and_layers(tt1_16k, model, layer, dim):
    e = embed.embed(tt1_16k[: 16_000 * 7], sample_rate=16_000, config=EmbedConfig(model=model, layer=layer), track_id="t")
    assert e.embeddings.shape == (2, dim) and e.tags.shape == (2, 50) and e.model == model
    name = embed.MUSICNN_MODELS[model]
    assert e.weights_sha256 == musicnn.MODELS[name].sha256


def test_embedding_matches_the_reference_penultimate():
    # end to end through embed(): the 200-d embedding is the reference's per-patch penultimate
    ref_in = np.load(REF_INPUTS)
    ref_out = np.load(REF_INPUTS.parent / "MTT_musicnn.npz")
    e = embed.embed(ref_in["synth_pad"], sample_rate=16_000, config=EmbedConfig(model="musicnn-mtt"), track_id="t")
    ref = ref_out["synth_pad/penultimate"]
    assert np.abs(e.embeddings - ref).max() <= 1e-4 * np.abs(ref).max()


def test_different_signals_embed_differently():
    ref = np.load(REF_INPUTS)
    cfg = EmbedConfig()
    means = {s: embed.embed(ref[s], sample_rate=16_000, config=cfg, track_id=s).embeddings for s in ("kick_hat_chord", "synth_pad")}

    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    a, b = means["kick_hat_chord"], means["synth_pad"]
    assert cos(a.mean(0), b.mean(0)) < 0.8  # the shared README measured 0.61
    assert min(cos(a[0], a[i]) for i in range(1, len(a))) > 0.8


def test_invalid_requests_are_parameter_errors(tt1_16k):
    with pytest.raises(ParameterError, match="'none' computes no embeddings"):
        embed.embed(tt1_16k, sample_rate=16_000, config=EmbedConfig(model="none"), track_id="t")
    with pytest.raises(ParameterError, match="exists only in the musicnn models"):
        EmbedConfig(model="vggish", layer="mean_pool")
    with pytest.raises(ParameterError, match="mono 1-D"):
        embed.embed(np.zeros((2, 16_000)), sample_rate=16_000, config=EmbedConfig(), track_id="t")
    with pytest.raises(ParameterError, match="NaN"):
        embed.embed(np.full(50_000, np.nan), sample_rate=16_000, config=EmbedConfig(), track_id="t")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error when CUDA is missing")
def test_cuda_without_cuda_is_an_error(tt1_16k):
    with pytest.raises(ParameterError, match="no CUDA device"):
        embed.embed(tt1_16k, sample_rate=16_000, config=EmbedConfig(device="cuda"), track_id="t")
    assert embed.resolve_device("auto").type == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(tt1_16k, tt1_musicnn):
    gpu = embed.embed(tt1_16k, sample_rate=16_000, config=EmbedConfig(device="cuda", batch_size=4), track_id="tt1")
    np.testing.assert_allclose(gpu.embeddings, tt1_musicnn.embeddings, atol=1e-3)


def test_thread_count_is_restored(tt1_16k):
    before = torch.get_num_threads()
    embed.embed(tt1_16k[:50_000], sample_rate=16_000, config=EmbedConfig(), track_id="t")
    assert torch.get_num_threads() == before


# --- pooling -----------------------------------------------------------------


def test_fifteen_second_sections_hold_five_patches():
    starts = np.arange(20) * musicnn.PATCH_SECONDS
    values = np.arange(20, dtype=np.float32)[:, None] * np.array([[1.0, -1.0]], np.float32)
    mean, high, counts = embed.pool(
        values, starts, starts + musicnn.PATCH_SECONDS, start_s=np.array([0.0, 15.0, 30.0, 45.0]), end_s=np.array([15.0, 30.0, 45.0, 60.0])
    )
    # centres 1.496 + 2.992 k; section 0 gets k = 0..4, section 1 k = 5..9, ...
    assert counts.tolist() == [5, 5, 5, 5]
    np.testing.assert_allclose(mean[:, 0], [2, 7, 12, 17])
    np.testing.assert_allclose(high[:, 0], [4, 9, 14, 19])
    np.testing.assert_allclose(high[:, 1], [0, -5, -10, -15])


def test_pieces_go_to_the_section_holding_their_centre():
    ps, pe = np.array([0.0, 3.0, 6.0]), np.array([3.0, 6.0, 9.0])  # centres 1.5, 4.5, 7.5
    values = np.array([[1.0], [2.0], [4.0]], np.float32)
    mean, _, counts = embed.pool(values, ps, pe, start_s=np.array([0.0, 4.6]), end_s=np.array([4.6, 9.0]))
    assert counts.tolist() == [2, 1]
    np.testing.assert_allclose(mean[:, 0], [1.5, 4.0])


def test_sections_without_a_centre_borrow_the_most_overlapping_piece():
    ps, pe = np.array([0.0, 3.0]), np.array([3.0, 6.0])
    values = np.array([[1.0], [2.0]], np.float32)
    mean, high, counts = embed.pool(values, ps, pe, start_s=np.array([2.0, 3.2, 7.0]), end_s=np.array([3.1, 4.0, 8.0]))
    assert counts.tolist() == [0, 0, 0]
    np.testing.assert_allclose(mean[:, 0], [1.0, 2.0, 2.0])  # overlap 1.0 vs 0.1; inside piece 2; nearest centre
    assert np.isfinite(high).all()


def test_pool_to_sections_pools_tags_too(tt1_musicnn):
    sec = embed.pool_to_sections(tt1_musicnn, np.array([0.0, 15.0]), np.array([15.0, 30.0]))
    assert sec.mean.shape == sec.max.shape == (2, 200) and sec.tags.shape == (2, 50)
    assert sec.n_pieces.tolist() == [5, 5]
    np.testing.assert_allclose(sec.tags[1], tt1_musicnn.tags[5:].mean(axis=0), rtol=1e-6)
    assert (sec.max >= sec.mean - 1e-6).all() and sec.weights_sha256 == tt1_musicnn.weights_sha256


def test_pool_rejects_mismatched_shapes():
    with pytest.raises(ParameterError, match="disagree"):
        embed.pool(np.zeros((3, 2)), np.zeros(2), np.ones(2), start_s=np.zeros(1), end_s=np.ones(1))
    with pytest.raises(ParameterError, match="zero pieces"):
        embed.pool(np.zeros((0, 2)), np.zeros(0), np.zeros(0), start_s=np.zeros(1), end_s=np.ones(1))


# --- describing clusters -------------------------------------------------------

NAMES = ("rock", "electronic", "dance", "jazz", "female vocalists", "female vocalist", "House", "piano")


def _tags(rows: list[dict[str, float]]) -> np.ndarray:
    out = np.full((len(rows), len(NAMES)), 0.05)
    for i, row in enumerate(rows):
        for name, p in row.items():
            out[i, NAMES.index(name)] = p
    out[:, 0] = 0.6  # everything is "rock": it should describe no cluster
    return out


def test_describe_clusters_in_plain_words():
    tags = _tags([{"electronic": 0.8, "dance": 0.6, "House": 0.5}] * 3 + [{"jazz": 0.7, "piano": 0.4}] * 2)
    labels = np.array([0, 0, 0, 1, 1])
    words = describe_clusters(tags, NAMES, labels, top=3)
    assert words[0] == "more electronic, dance and house than the rest"
    assert words[1].startswith("more jazz and piano") and "rock" not in words[1]


def test_plurals_count_once_and_single_cluster_says_mostly():
    tags = _tags([{"female vocalists": 0.9, "female vocalist": 0.85, "dance": 0.3}] * 2 + [{}])
    ranked = cluster_tags(tags, NAMES, np.array([3, 3, 7]), top=2)
    assert [name for name, *_ in ranked[3]] == ["female vocalists", "dance"]
    assert describe_clusters(tags[:2], NAMES, np.array([3, 3]), top=2)[3] == "mostly female vocalists and rock"


def test_describe_clusters_validates():
    with pytest.raises(ParameterError, match="disagree"):
        describe_clusters(np.zeros((3, 4)), NAMES, np.zeros(3))
    with pytest.raises(ParameterError, match="top"):
        describe_clusters(np.zeros((3, len(NAMES))), NAMES, np.zeros(3), top=0)


def test_describe_real_clusters(tt1_musicnn):
    labels = (np.arange(tt1_musicnn.n_pieces) >= 5).astype(int)
    words = describe_clusters(tt1_musicnn.tags, tt1_musicnn.tag_names, labels)
    assert set(words) == {0, 1} and all(w for w in words.values())
