"""musicnn under ONNX Runtime (engine.neural.runtime): the same numbers as torch and the TensorFlow references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.config import EmbedConfig
from engine.neural import musicnn
from engine.neural.embed import MUSICNN_MODELS, embed, embed_inputs, load_model, model_inputs
from engine.neural.runtime import INFERENCE_ENV, onnx_runner

REF_DIR = Path(__file__).resolve().parent / "data" / "musicnn"
SIGNALS = ("kick_hat_chord", "synth_pad", "noise_bursts")
REL_TOL = 1e-4  # of each reference tensor's largest magnitude, as tests/test_musicnn.py


def _ref(npz, key: str) -> np.ndarray:
    if f"{key}.scale" in npz.files:
        return npz[key].astype(np.float64) / 32767.0 * float(npz[f"{key}.scale"])
    return npz[key]


@pytest.fixture(scope="module")
def inputs():
    return np.load(REF_DIR / "inputs.npz")


@pytest.mark.parametrize("model", list(MUSICNN_MODELS))
def test_onnx_runtime_matches_the_tensorflow_references(inputs, model):
    net = load_model(EmbedConfig(model=model))
    run = onnx_runner(net, "penultimate", 2)
    assert run is not None, "ONNX Runtime should run the musicnn models on CPU"
    refs = np.load(REF_DIR / f"{MUSICNN_MODELS[model]}.npz")
    for signal in SIGNALS:
        batch, _ = musicnn.patches(musicnn.log_mel(inputs[signal]))
        emb, tags = run(batch)
        names = [("taggram", tags)] + ([("penultimate", emb)] if model != "msd-vgg" else [])
        for name, got in names:
            ref = _ref(refs, f"{signal}/{name}")
            assert got.shape == ref.shape
            dev = float(np.abs(got.astype(np.float64) - ref).max())
            assert dev <= REL_TOL * float(np.abs(ref).max()), f"{model} {signal} {name}: {dev:.3g}"


@pytest.mark.parametrize("model", list(MUSICNN_MODELS))
def test_onnx_runtime_and_torch_agree_on_real_music(demo_files, model, monkeypatch):
    import soundfile as sf

    y, sr = sf.read(demo_files[0], dtype="float32", frames=44_100 * 30, always_2d=True)
    batch = model_inputs(y.mean(axis=1), sample_rate=sr, model=model)[0]
    net = load_model(EmbedConfig(model=model))
    fast_emb, fast_tags = embed_inputs(batch, net=net, batch_size=8)
    monkeypatch.setenv(INFERENCE_ENV, "torch")
    assert onnx_runner(net, "penultimate", 2) is None
    torch_emb, torch_tags = embed_inputs(batch, net=net, batch_size=8)
    scale = float(np.abs(torch_emb).max())
    assert float(np.abs(fast_emb - torch_emb).max()) <= 1e-5 * scale
    np.testing.assert_allclose(fast_tags, torch_tags, rtol=0, atol=1e-5)


def test_embed_runs_onnx_runtime_on_cpu_and_leaves_the_weights_alone(demo_files):
    """The export runs on a copy: the loaded module's BatchNorm statistics are those of the weights file."""
    import soundfile as sf

    net = load_model(EmbedConfig())
    before = {k: v.clone() for k, v in net.module.state_dict().items()}
    y, sr = sf.read(demo_files[0], dtype="float32", frames=44_100 * 12, always_2d=True)
    got = embed(y.mean(axis=1), sample_rate=sr, config=EmbedConfig(), track_id="t")
    run = onnx_runner(net, "penultimate", torch.get_num_threads())
    assert run is not None
    emb, _ = run(model_inputs(y.mean(axis=1), sample_rate=sr, model="musicnn")[0])
    np.testing.assert_allclose(got.embeddings, emb, rtol=1e-6, atol=1e-6)  # batches of 8 against one batch
    after = net.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
