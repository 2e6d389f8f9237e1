"""The PyTorch musicnn port against tensors made with the original TensorFlow code.

The references (tests/data/musicnn, see its README) hold, for three 10-s
signals and the models MSD_musicnn, MTT_musicnn and MSD_vgg, the log-mel
input and every per-patch feature. The port runs from the waveform, and each
tensor must match to 1e-4 of the reference tensor's largest magnitude.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.neural import embed, musicnn
from engine.errors import ModelError, ParameterError

REF_DIR = Path(__file__).resolve().parent / "data" / "musicnn"
# The project's shared folder sits beside the checkout (``../shared``), in CI too; a clone
# elsewhere (without it) skips only the full-precision comparison, and CI must have it.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "models" / "musicnn"
SIGNALS = ("kick_hat_chord", "synth_pad", "noise_bursts")
MODELS = tuple(musicnn.MODELS)
MUSICNN_FEATURES = ("timbral", "temporal", "cnn1", "cnn2", "cnn3", "max_pool", "mean_pool", "penultimate", "logits", "taggram")
VGG_FEATURES = ("pool1", "pool2", "pool3", "pool4", "pool5", "logits", "taggram")
REL_TOL = 1e-4  # of each reference tensor's largest magnitude


def _ref(npz, key: str) -> np.ndarray:
    """A reference array; int16 fixed-point ones are decoded with their stored scale."""
    if f"{key}.scale" in npz.files:
        return npz[key].astype(np.float64) / 32767.0 * float(npz[f"{key}.scale"])
    return npz[key]


def _assert_close(got: np.ndarray, ref: np.ndarray, what: str) -> float:
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != reference {ref.shape}"
    scale = float(np.abs(ref).max())
    dev = float(np.abs(got.astype(np.float64) - ref).max())
    assert dev <= REL_TOL * scale, f"{what}: max deviation {dev:.3g} > {REL_TOL} x {scale:.3g}"
    return dev / scale


@pytest.fixture(scope="module")
def inputs():
    return np.load(REF_DIR / "inputs.npz")


@pytest.fixture(scope="module")
def refs():
    return {m: np.load(REF_DIR / f"{m}.npz") for m in MODELS}


@pytest.fixture(scope="module")
def port(inputs):
    """Every model's outputs on every signal, computed from the waveform."""
    out = {}
    for model in MODELS:
        net = musicnn.load(model)
        for s in SIGNALS:
            batch, starts = musicnn.patches(musicnn.log_mel(inputs[s]))
            with torch.inference_mode():
                res = net.module(torch.from_numpy(batch))
            out[model, s] = {"starts": starts, "batch": batch, **{k: v.numpy() for k, v in res.items()}}
    return out


def test_mel_filterbank_matches_librosa_reference(inputs):
    np.testing.assert_allclose(musicnn.mel_filterbank(), inputs["mel_filterbank"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("signal", SIGNALS)
def test_log_mel_matches_reference(inputs, signal):
    got = musicnn.log_mel(inputs[signal])
    assert got.dtype == np.float32
    rel = _assert_close(got, inputs[f"{signal}/logmel_full"], f"{signal} log-mel")
    assert rel < 1e-5  # float32 STFT differences only


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("signal", SIGNALS)
def test_patches_match_the_extractor(port, refs, inputs, model, signal):
    got = port[model, signal]
    np.testing.assert_array_equal(got["starts"], refs[model][f"{signal}/patch_start_frames"])
    full = inputs[f"{signal}/logmel_full"]
    expected = np.stack([full[a : a + musicnn.PATCH_FRAMES] for a in got["starts"]])
    _assert_close(got["batch"], expected, f"{model} {signal} input batch")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("signal", SIGNALS)
def test_every_per_patch_feature_matches(port, refs, model, signal):
    names = VGG_FEATURES if musicnn.MODELS[model].architecture == "vgg" else MUSICNN_FEATURES
    for name in names:
        _assert_close(port[model, signal][name], _ref(refs[model], f"{signal}/{name}"), f"{model} {signal} {name}")
    # NOTES.md also suggests an absolute bound on the probabilities
    np.testing.assert_allclose(port[model, signal]["taggram"], refs[model][f"{signal}/taggram"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("model", ["MSD_musicnn", "MTT_musicnn"])
def test_overlapping_patches_step_61_frames(inputs, refs, model):
    # musicnn's input_overlap=1 is a step of floor((16000 - 256) / 256) = 61 frames
    net = musicnn.load(model)
    for s in SIGNALS:
        batch, starts = musicnn.patches(musicnn.log_mel(inputs[s]), step=61)
        np.testing.assert_array_equal(starts, refs[model][f"ovl1/{s}/patch_start_frames"])
        with torch.inference_mode():
            res = net.module(torch.from_numpy(batch))
        for name in ("taggram", "penultimate"):
            _assert_close(res[name].numpy(), refs[model][f"ovl1/{s}/{name}"], f"{model} ovl1 {s} {name}")


def test_extractor_bug_is_not_reproduced(port, refs):
    # musicnn 0.1.0's extractor returns patch 0's penultimate for every patch; the port does not
    ref = refs["MSD_musicnn"]
    for s in SIGNALS:
        buggy = ref[f"{s}/extractor/penultimate"]
        assert np.array_equal(buggy, np.repeat(buggy[:1], len(buggy), axis=0))
        ours = port["MSD_musicnn", s]["penultimate"]
        assert np.abs(ours[1:] - ours[:1]).max() > 1e-2  # patches differ
        _assert_close(ours, ref[f"{s}/penultimate"], f"{s} per-patch penultimate")


@pytest.mark.parametrize("model", MODELS)
def test_fast_frontend_equals_spec_order(inputs, model):
    net = musicnn.load(model).module
    batch, _ = musicnn.patches(musicnn.log_mel(inputs["synth_pad"]))
    with torch.inference_mode():
        fast = net(torch.from_numpy(batch))
        spec = net(torch.from_numpy(batch), maps=True)
    for key, value in fast.items():
        assert torch.equal(value, spec[key]), key
    widths = net.cam_widths()
    assert len(spec["maps"]) == len(widths)
    for fmap, width in zip(spec["maps"], widths):
        if width:  # musicnn front-end: [B, C, T, 96 - k + 1]
            assert fmap.shape[2:] == (musicnn.PATCH_FRAMES, musicnn.N_MELS - width + 1)
        else:  # vgg block 5
            assert fmap.shape[1:] == (128, 11, 6)


def test_some_bn_scales_are_negative():
    # the fast front-end takes the min where a BN scale is negative; make sure that path is exercised
    net = musicnn.load("MSD_musicnn").module
    signs = torch.cat([getattr(net, f"{n}_bn").weight for n, *_ in net.TIMBRAL + net.TEMPORAL])
    assert (signs < 0).any() and (signs > 0).any()


def test_patch_starts_drop_trailing_frames():
    np.testing.assert_array_equal(musicnn.patch_starts(626), [0, 187, 374])
    assert musicnn.patch_starts(186).size == 0
    assert musicnn.log_mel(np.zeros(musicnn.MIN_SAMPLES, np.float32)).shape == (187, 96)


def test_musicnn_accepts_other_patch_lengths_but_vgg_does_not():
    x = torch.zeros(2, 100, 96)
    with torch.inference_mode():
        assert musicnn.load("MSD_musicnn").module(x)["timbral"].shape == (2, 100, 408)
        with pytest.raises(ParameterError, match="187-frame"):
            musicnn.load("MSD_vgg").module(x)


def test_short_audio_is_padded_to_one_patch():
    y = np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32)  # 1 s
    inputs, start, end = embed.model_inputs(y, sample_rate=16_000, model="musicnn")
    assert inputs.shape == (1, 187, 96)
    assert start.tolist() == [0.0] and end.tolist() == [1.0]


@pytest.mark.parametrize("bad", [np.array([0.0, np.nan, 0.0]), np.zeros((2, 100)), np.zeros(0)])
def test_log_mel_rejects_bad_audio(bad):
    with pytest.raises(ParameterError, match="audio"):
        musicnn.log_mel(bad)


def test_unknown_model_is_a_parameter_error():
    with pytest.raises(ParameterError, match="unknown musicnn model 'MSD_resnet'"):
        musicnn.load("MSD_resnet")


def test_bundled_weights_load_without_shared_files():
    net = musicnn.load("MTT_musicnn")
    assert Path(net.weights_file).parent == musicnn.WEIGHTS_DIR
    assert net.weights_sha256 == musicnn.MODELS["MTT_musicnn"].sha256
    assert len(net.tags) == 50 and net.tags[:3] == ("guitar", "classical", "slow")
    assert musicnn.load("MSD_musicnn").tags[0] == "rock"
    assert (musicnn.WEIGHTS_DIR / "LICENSE.md").read_text().count("Permission to use, copy, modify") == 1
    assert "arXiv:1909.06654" in (musicnn.WEIGHTS_DIR / "README.md").read_text()
    assert not any(p.requires_grad for p in net.module.parameters()) and not net.module.training


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    data = bytearray((musicnn.WEIGHTS_DIR / "MSD_vgg.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "MSD_vgg.safetensors").write_bytes(bytes(data))
    monkeypatch.setattr(musicnn, "WEIGHTS_DIR", tmp_path)
    musicnn.load.cache_clear()
    try:
        with pytest.raises(ModelError, match="sha256"):
            musicnn.load("MSD_vgg")
        with pytest.raises(ModelError, match="cannot be read"):
            musicnn.load("MSD_musicnn")
    finally:
        musicnn.load.cache_clear()


@pytest.mark.skipif(not SHARED.is_dir() and not os.environ.get("CI"),
                    reason=f"full-precision references are not at {SHARED} (../shared beside the checkout)")
@pytest.mark.parametrize("model", MODELS)
def test_full_precision_references_when_available(port, model):
    ref = np.load(SHARED / f"{model}.reference_outputs.npz")
    names = VGG_FEATURES if musicnn.MODELS[model].architecture == "vgg" else MUSICNN_FEATURES
    for s in SIGNALS:
        _assert_close(port[model, s]["batch"], ref[f"{s}/input_batch"], f"{model} {s} input")
        for name in names:
            _assert_close(port[model, s][name], ref[f"{s}/{name}"], f"{model} {s} {name}")
