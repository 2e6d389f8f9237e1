"""VGGish: the weights search order and its errors, preprocessing, the postprocessor, and no random weights.

These tests write their own (meaningless) state dicts into a temporary
TORCH_HOME; they check the loading machinery, not what VGGish says. Tests
that need the real weights carry the ``vggish_weights`` marker and are
skipped when no weights are found.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from engine.neural import embed, vggish
from engine.config import EmbedConfig
from engine.errors import ModelError, ParameterError

DEMO = Path(__file__).resolve().parents[1] / "demo" / "tt1.ogg"


def _demo_16k(seconds: float) -> np.ndarray:
    y, sr = sf.read(DEMO, dtype="float32", frames=int(seconds * sf.info(DEMO).samplerate), always_2d=True)
    return soxr.resample(y.mean(axis=1), sr, 16_000, quality="HQ").astype(np.float32)


def _state(seed: int) -> dict[str, torch.Tensor]:
    """A full-size VGGish state dict of seeded noise (288 MB on disk: written once per session)."""
    torch.manual_seed(seed)
    return {k: torch.randn_like(v) * 0.01 for k, v in vggish.build().state_dict().items()}


def _stub(seed: int) -> dict[str, torch.Tensor]:
    """A small file: enough for the search, which only looks at paths and hashes."""
    return {"stub": torch.tensor([float(seed)])}


@pytest.fixture(scope="session")
def test_weights(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """One full-size state dict the tests write themselves (noise, not VGGish's weights)."""
    state = _state(5)
    path = tmp_path_factory.mktemp("vggish") / "vggish-10086976.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture()
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty TORCH_HOME, with the VGGish variables cleared and downloads made to fail loudly."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv(vggish.ENV_WEIGHTS, raising=False)
    monkeypatch.delenv(vggish.ENV_PCA, raising=False)

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return home


def _write(path: Path, state) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def _cache_path(home: Path, name: str = "vggish-10086976.pth") -> Path:
    return home / "hub" / "checkpoints" / name


def _pca(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"pca_eigen_vectors": rng.normal(size=(128, 128)), "pca_means": rng.normal(size=(128,))}


def test_nothing_found_lists_every_place_and_the_fix(torch_home):
    with pytest.raises(ModelError) as err:
        vggish.find_weights()
    text = str(err.value)
    for needed in (
        "VGGish weights not found",
        "explicit path (weights_path): not set",
        "$CRATEMAP_VGGISH_WEIGHTS: not set",
        str(_cache_path(torch_home)),
        "download: not allowed",
        vggish.WEIGHTS_URL,
        "never runs VGGish with untrained weights",
    ):
        assert needed in text, needed
    order = [text.index(s) for s in ("explicit path", "$CRATEMAP_VGGISH_WEIGHTS", "torch hub cache", "download:")]
    assert order == sorted(order)


def test_hub_cache_is_found_and_recorded_as_unofficial(torch_home):
    path = _write(_cache_path(torch_home), _stub(1))
    with pytest.warns(UserWarning, match="does not match the sha256 prefix 10086976"):
        found = vggish.find_weights()
    assert found.path == str(path.resolve()) and found.source == "hub-cache" and not found.official
    assert len(found.sha256) == 64


def test_search_order_explicit_then_environment_then_cache(torch_home, tmp_path, monkeypatch):
    cache = _write(_cache_path(torch_home), _stub(1))
    env = _write(tmp_path / "env" / "vggish.pth", _stub(2))
    explicit = _write(tmp_path / "explicit" / "vggish.pth", _stub(3))
    monkeypatch.setenv(vggish.ENV_WEIGHTS, str(env))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert vggish.find_weights(path=str(explicit)).source == "explicit"
        assert vggish.find_weights().source == "environment"
        assert vggish.find_weights().path == str(env.resolve())
        monkeypatch.delenv(vggish.ENV_WEIGHTS)
        assert vggish.find_weights().path == str(cache.resolve())


def test_named_but_missing_files_are_errors_not_skipped(torch_home, tmp_path, monkeypatch):
    _write(_cache_path(torch_home), _stub(1))  # would be found if the named paths were skipped
    with pytest.raises(ModelError, match="explicit path .*nope.pth"):
        vggish.find_weights(path=str(tmp_path / "nope.pth"))
    monkeypatch.setenv(vggish.ENV_WEIGHTS, str(tmp_path / "gone.pth"))
    with pytest.raises(ModelError, match=r"\$CRATEMAP_VGGISH_WEIGHTS names .*gone.pth"):
        vggish.find_weights()


def test_download_only_when_allowed_and_hash_checked(torch_home, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        torch.save(_stub(4), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    with pytest.raises(ModelError, match="not found"):
        vggish.find_weights(allow_download=False)
    assert calls == []
    found = vggish.find_weights(allow_download=True)
    assert calls == [(vggish.WEIGHTS_URL, "10086976")]
    assert found.source == "download" and Path(found.path) == _cache_path(torch_home)


def test_failed_or_mismatching_download_is_a_model_error(torch_home, monkeypatch):
    def bad_hash(url, dst, hash_prefix=None, progress=True):
        raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "deadbeef")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", bad_hash)
    with pytest.raises(ModelError, match="download from .* failed: invalid hash"):
        vggish.find_weights(allow_download=True)


def test_loaded_parameters_are_exactly_the_files(torch_home, test_weights):
    path, state = test_weights
    loaded = vggish.load(path=str(path))
    got = loaded.module.state_dict()
    assert set(got) == set(state)
    for key, value in state.items():
        assert torch.equal(got[key], value), key  # nothing left at its random initialisation
    assert not any(t.is_meta for t in got.values())
    assert loaded.weights.source == "explicit" and not loaded.module.training


def test_wrong_state_dicts_are_refused(torch_home, tmp_path):
    with torch.device("meta"):
        keys = list(vggish.build().state_dict())
    state = {k: torch.zeros(1) for k in keys if k != "embeddings.4.bias"}
    with pytest.raises(ModelError, match=r"not a VGGish state dict: missing \['embeddings.4.bias'\]"):
        vggish.load(path=str(_write(tmp_path / "partial.pth", state)))
    state = {k: torch.zeros(1) for k in keys}  # every name, wrong shapes
    with pytest.raises(ModelError, match="does not fit VGGish"):
        vggish.load(path=str(_write(tmp_path / "shape.pth", state)))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read"):
        vggish.load(path=str(tmp_path / "junk.pth"))


def test_embed_never_runs_without_weights(torch_home):
    y = np.zeros(32_000, np.float32)
    with pytest.raises(ModelError, match="VGGish weights not found"):
        embed.embed(y, sample_rate=16_000, config=EmbedConfig(model="vggish"), track_id="t")


def test_examples_on_a_demo_track_match_torchvggish():
    from torchvggish.vggish_input import waveform_to_examples

    y = _demo_16k(10.0)
    got = vggish.examples(y)
    assert got.shape == (10, 96, 64) and got.dtype == np.float32  # 998 frames of 10 ms -> 10 examples
    np.testing.assert_allclose(got, waveform_to_examples(y.astype(np.float64), 16_000, return_tensor=False), rtol=1e-6)
    inputs, start, end = embed.model_inputs(y, sample_rate=16_000, model="vggish")
    assert inputs.shape == (10, 96, 64)
    np.testing.assert_allclose(start, np.arange(10) * 0.96)
    np.testing.assert_allclose(end, np.arange(1, 11) * 0.96)


def test_short_audio_makes_one_example():
    assert vggish.examples(np.zeros(8_000, np.float32)).shape == (1, 96, 64)
    with pytest.raises(ParameterError, match="NaN"):
        vggish.examples(np.array([0.0, np.inf]))


def test_embed_with_test_weights_records_them(torch_home, test_weights, monkeypatch):
    path, _ = test_weights
    monkeypatch.setenv(vggish.ENV_WEIGHTS, str(path))
    y = _demo_16k(5.0)
    out = embed.embed(y, sample_rate=16_000, config=EmbedConfig(model="vggish", batch_size=2), track_id="abc")
    assert out.embeddings.shape == (5, 128) and out.tags is None and out.tag_names == ()
    assert out.weights_file == str(path.resolve()) and out.postprocess_file == ""
    import hashlib

    assert out.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_postprocessor_matches_torchvggish_and_quantises(torch_home, tmp_path):
    from torchvggish.torchvggish import Postprocessor

    pca_path = _write(tmp_path / "pca.pth", _pca())
    pca = vggish.load_pca(path=str(pca_path))
    emb = np.random.default_rng(1).normal(size=(6, 128)).astype(np.float32)
    theirs = object.__new__(Postprocessor)  # torchvggish's class, without its download
    theirs._pca_matrix, theirs._pca_means = pca.matrix, pca.means.reshape(-1, 1)
    ours = vggish.postprocess(emb, pca)
    np.testing.assert_array_equal(ours, theirs.postprocess(torch.from_numpy(emb)).numpy())
    assert ours.min() >= 0 and ours.max() <= 255 and np.array_equal(ours, np.round(ours))
    assert ours.min() == 0 and ours.max() == 255  # whitened normals reach the clip limits


def test_pca_is_found_like_the_weights(torch_home, tmp_path, monkeypatch, test_weights):
    weights = test_weights[0]
    beside = _write(weights.parent / "vggish_pca_params-970ea276.pth", _pca(1))
    try:
        assert vggish.find_pca(weights_path=str(weights)).source == "beside-weights"
        env = _write(tmp_path / "env_pca.pth", _pca(2))
        monkeypatch.setenv(vggish.ENV_PCA, str(env))
        assert vggish.find_pca(weights_path=str(weights)).path == str(env.resolve())
        assert vggish.find_pca(path=str(beside)).source == "explicit"
        monkeypatch.delenv(vggish.ENV_PCA)
        cached = _write(_cache_path(torch_home, "vggish_pca_params-970ea276.pth"), _pca(3))
        with pytest.warns(UserWarning, match="970ea276"):
            assert vggish.find_pca().path == str(cached.resolve())
        cached.unlink()
        with pytest.raises(ModelError, match=r"VGGish PCA parameters not found(.|\n)*CRATEMAP_VGGISH_PCA"):
            vggish.find_pca()
        # a postprocessed embed records the PCA file it used
        monkeypatch.setenv(vggish.ENV_WEIGHTS, str(weights))
        cfg = EmbedConfig(model="vggish", vggish_postprocess=True)
        out = embed.embed(np.zeros(20_000, np.float32), sample_rate=16_000, config=cfg, track_id="t")
        assert out.postprocess_file == str(beside.resolve()) and len(out.postprocess_sha256) == 64
        assert out.embeddings.shape == (1, 128) and np.array_equal(out.embeddings, np.round(out.embeddings))
    finally:
        beside.unlink()


def test_numpy1_pickled_pca_file_loads(torch_home, tmp_path):
    # torchvggish's PCA file (2019) pickles numpy arrays under numpy 1's module names
    params = _pca(3)
    legacy = tmp_path / "legacy.pth"
    torch.save(params, legacy, _use_new_zipfile_serialization=False)
    data = legacy.read_bytes()
    assert data.count(b"cnumpy._core.multiarray\n") == 1
    legacy.write_bytes(data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    pca = vggish.load_pca(path=str(legacy))
    np.testing.assert_allclose(pca.means.numpy(), params["pca_means"], rtol=1e-6)
    bad = _write(tmp_path / "bad_pca.pth", {"pca_eigen_vectors": np.zeros((64, 128)), "pca_means": np.zeros(128)})
    with pytest.raises(ModelError, match="PCA shapes"):
        vggish.load_pca(path=str(bad))


@pytest.fixture()
def real_weights():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = vggish.find_weights()
    except ModelError as exc:
        pytest.skip(f"real VGGish weights not found ({str(exc).splitlines()[0]})")
    if not found.official:
        pytest.skip(f"{found.path} is not torchvggish's published file")
    return found


@pytest.mark.vggish_weights
def test_real_weights_embed_a_demo_track(real_weights):
    y = _demo_16k(10.0)
    out = embed.embed(y, sample_rate=16_000, config=EmbedConfig(model="vggish"), track_id="t")
    assert out.embeddings.shape == (10, 128) and np.isfinite(out.embeddings).all()
    assert out.weights_sha256.startswith("10086976")
    assert out.embeddings.std(axis=0).max() > 0  # the examples differ


@pytest.mark.vggish_weights
def test_real_weights_postprocessed_values_are_bytes(real_weights):
    try:
        vggish.find_pca(weights_path=real_weights.path)
    except ModelError as exc:
        pytest.skip(f"real VGGish PCA parameters not found ({str(exc).splitlines()[0]})")
    out = embed.embed(_demo_16k(5.0), sample_rate=16_000, config=EmbedConfig(model="vggish", vggish_postprocess=True), track_id="t")
    assert out.embeddings.min() >= 0 and out.embeddings.max() <= 255
    assert np.array_equal(out.embeddings, np.round(out.embeddings))
