"""Convert musicnn's TensorFlow variables (numpy arrays) into PyTorch safetensors.

Run once by hand; the result is committed under ``engine/models/musicnn/``::

    python scripts/convert_musicnn.py [--source /work/shared/models/musicnn]

It reads ``<MODEL>.weights.npz`` (the checkpoint variables, keyed by their TF
names) and ``<MODEL>.config.json`` (the tag list) for MSD_musicnn,
MTT_musicnn and MSD_vgg, maps every variable onto the parameter names of
:class:`engine.neural.musicnn.Musicnn` / :class:`engine.neural.musicnn.MusicnnVGG`
(``NOTES.md`` section 2.6: conv kernels HWIO -> OIHW, mid-end kernels
``(7, C, 1, 64)`` -> ``(64, C, 7)``, dense kernels transposed, BN
gamma/beta/moving statistics -> weight/bias/running_mean/running_var), checks
that every variable was used exactly once and that the model loads the result
strictly, and writes float32 ``<MODEL>.safetensors`` with the tag list, the
source file's sha256 and the licence in the metadata.

float32 is kept on purpose: storing float16 was measured to move the outputs
by up to 3.4e-3 of each tensor's largest magnitude (bfloat16: 3e-2), over the
1e-4 the tests allow. The files are byte-for-byte reproducible.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.neural import musicnn  # noqa: E402

DEFAULT_SOURCE = Path("/work/shared/models/musicnn")
OUT_DIR = ROOT / "engine" / "models" / "musicnn"


def _bn(tf: str, pt: str) -> dict[str, tuple[str, str]]:
    return {
        f"{pt}.weight": (f"{tf}/gamma", "vector"),
        f"{pt}.bias": (f"{tf}/beta", "vector"),
        f"{pt}.running_mean": (f"{tf}/moving_mean", "vector"),
        f"{pt}.running_var": (f"{tf}/moving_variance", "vector"),
    }


def _conv2d(tf: str, pt: str) -> dict[str, tuple[str, str]]:
    return {f"{pt}.weight": (f"{tf}/kernel", "hwio"), f"{pt}.bias": (f"{tf}/bias", "vector")}


def _conv1d(tf: str, pt: str) -> dict[str, tuple[str, str]]:
    return {f"{pt}.weight": (f"{tf}/kernel", "midend"), f"{pt}.bias": (f"{tf}/bias", "vector")}


def _dense(tf: str, pt: str) -> dict[str, tuple[str, str]]:
    return {f"{pt}.weight": (f"{tf}/kernel", "dense"), f"{pt}.bias": (f"{tf}/bias", "vector")}


#: PyTorch parameter name -> (TF variable name, how to lay it out).
MUSICNN_MAP: dict[str, tuple[str, str]] = {
    **_bn("batch_normalization", "input_bn"),
    **_conv2d("conv2d", "timbral_74"), **_bn("batch_normalization_1", "timbral_74_bn"),
    **_conv2d("conv2d_1", "timbral_77"), **_bn("batch_normalization_2", "timbral_77_bn"),
    **_conv2d("conv2d_2", "temporal_128"), **_bn("batch_normalization_3", "temporal_128_bn"),
    **_conv2d("conv2d_3", "temporal_64"), **_bn("batch_normalization_4", "temporal_64_bn"),
    **_conv2d("conv2d_4", "temporal_32"), **_bn("batch_normalization_5", "temporal_32_bn"),
    **_conv1d("conv2d_5", "mid1"), **_bn("batch_normalization_6", "mid1_bn"),
    **_conv1d("conv2d_6", "mid2"), **_bn("batch_normalization_7", "mid2_bn"),
    **_conv1d("conv2d_7", "mid3"), **_bn("batch_normalization_8", "mid3_bn"),
    **_bn("batch_normalization_9", "pool_bn"),
    **_dense("dense", "dense"), **_bn("batch_normalization_10", "dense_bn"),
    **_dense("dense_1", "output"),
}

VGG_MAP: dict[str, tuple[str, str]] = {
    **_bn("batch_normalization", "input_bn"),
    **{k: v for i in range(1, 6) for k, v in {**_conv2d(f"{i}CNN", f"conv{i}"), **_bn(f"batch_normalization_{i}", f"bn{i}")}.items()},
    **_dense("dense", "output"),
}


def _layout(array: np.ndarray, how: str) -> np.ndarray:
    if how == "vector":
        return array
    if how == "hwio":  # (kt, kf, in, out) -> (out, in, kt, kf)
        return array.transpose(3, 2, 0, 1)
    if how == "midend":  # (7, C, 1, 64) -> (64, C, 7): weight[o, c, t] = kernel[t, c, 0, o]
        return array[:, :, 0, :].transpose(2, 1, 0)
    if how == "dense":  # (in, out) -> (out, in)
        return array.T
    raise ValueError(how)


def convert(name: str, source: Path) -> dict[str, torch.Tensor]:
    """Return the PyTorch state dict of one model, checked against the module."""
    npz_path = source / f"{name}.weights.npz"
    tf = dict(np.load(npz_path))
    mapping = MUSICNN_MAP if musicnn.MODELS[name].architecture == "musicnn" else VGG_MAP
    used = sorted(src for src, _ in mapping.values())
    if used != sorted(tf):
        raise SystemExit(f"{name}: variables unused {sorted(set(tf) - set(used))}, missing {sorted(set(used) - set(tf))}")
    state = {
        pt: torch.from_numpy(np.ascontiguousarray(_layout(tf[src], how), dtype=np.float32))
        for pt, (src, how) in mapping.items()
    }
    module = musicnn.build(name)
    expected = {k for k in module.state_dict() if not k.endswith("num_batches_tracked")}
    if expected != set(state):
        raise SystemExit(f"{name}: state dict keys differ: {sorted(expected ^ set(state))}")
    module.load_state_dict(state, strict=False)  # num_batches_tracked is unused in eval mode
    return state


def save_deterministic(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """Write a safetensors file whose bytes depend only on the contents.

    safetensors writes its metadata in hash-map order, which changes from run
    to run; the header is re-serialised here with sorted keys (the data
    section and its offsets are unchanged), so the file's sha256 -- recorded
    as provenance with every result -- is reproducible.
    """
    blob = save(state, metadata=metadata)
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob[8 + n :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in musicnn.MODELS:
        state = convert(name, args.source)
        config = json.loads((args.source / f"{name}.config.json").read_text())
        src_sha = hashlib.sha256((args.source / f"{name}.weights.npz").read_bytes()).hexdigest()
        metadata = {
            "model": name,
            "architecture": musicnn.MODELS[name].architecture,
            "tags": json.dumps(config["tags"]),
            "training_dataset": config["training_dataset"],
            "source": "musicnn 0.1.0 wheel (github.com/jordipons/musicnn), TF checkpoint variables",
            "source_npz_sha256": src_sha,
            "licence": "ISC, (c) Music Technology Group, Universitat Pompeu Fabra 2019; see LICENSE.md",
            "citation": "Pons & Serra, musicnn, LBD-ISMIR 2019, arXiv:1909.06654",
            "layout": "PyTorch (OIHW conv, (out,in) linear, BatchNorm eps 1e-3)",
        }
        out = args.out / f"{name}.safetensors"
        save_deterministic(state, out, metadata)
        size = out.stat().st_size
        total += size
        n = sum(t.numel() for t in state.values())
        print(f"{name}: {len(state)} tensors, {n:,} numbers -> {out.relative_to(ROOT)} ({size / 1e6:.2f} MB)")
    print(f"total {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
