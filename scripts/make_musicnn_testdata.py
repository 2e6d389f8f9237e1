"""Copy the musicnn reference tensors the tests need into tests/data/musicnn/ (a few MB).

Run once by hand::

    python scripts/make_musicnn_testdata.py [--source /work/shared/models/musicnn]

What is kept, from the references made with the original TensorFlow code
(see ``tests/data/musicnn/README.md``):

* ``inputs.npz`` -- the three 10-s test signals, their full log-mel
  spectrograms and the mel filterbank, as float32, unchanged;
* ``<MODEL>.npz`` -- per signal: ``patch_start_frames``, ``taggram``,
  ``logits`` and every per-patch feature; for the musicnn models also the
  ``ovl1/`` (step 61 frames) taggram/penultimate and the extractor's
  ``penultimate`` (which shows 0.1.0's stale-variable bug).

Left out: ``input_batch`` (it equals ``logmel_full`` cut at
``patch_start_frames``; the test checks that), the extractor's concatenated
copies, and the ``ovl1`` pools.

To stay small, the four largest maps (``timbral``, ``temporal``, ``pool1``,
``pool2``) are stored as 16-bit fixed point: ``<key>`` int16 codes and
``<key>.scale`` = the tensor's largest magnitude (float32, exact), value =
code / 32767 * scale, so the rounding error is at most 1.53e-5 of the
largest magnitude -- under a sixth of the 1e-4 the tests allow. Everything
else is float32 as produced.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIGNALS = ("kick_hat_chord", "synth_pad", "noise_bursts")
QUANTISED = ("timbral", "temporal", "pool1", "pool2")
CODE_MAX = 32767


def quantise(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.float32(np.abs(a).max())
    codes = np.round(a.astype(np.float64) / float(scale) * CODE_MAX).astype(np.int16)
    return codes, np.array(scale, dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/work/shared/models/musicnn"))
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "musicnn")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ri = np.load(args.source / "reference_inputs.npz")
    keep = {"mel_filterbank": ri["mel_filterbank"], "versions": ri["meta/versions"]}
    for s in SIGNALS:
        keep[s] = ri[s]
        keep[f"{s}/logmel_full"] = ri[f"{s}/logmel_full"]
    np.savez_compressed(args.out / "inputs.npz", **keep)
    for model in ("MSD_musicnn", "MTT_musicnn", "MSD_vgg"):
        ro = np.load(args.source / f"{model}.reference_outputs.npz")
        out: dict[str, np.ndarray] = {}
        for key in ro.files:
            parts = key.split("/")
            if parts[0] == "meta" or parts[-1] == "input_batch":
                continue
            if "extractor" in parts and not (parts[-1] == "penultimate" and parts[0] != "ovl1"):
                continue
            if parts[0] == "ovl1" and parts[-1] not in ("patch_start_frames", "taggram", "penultimate"):
                continue
            if parts[-1] in QUANTISED and "extractor" not in parts:
                out[key], out[f"{key}.scale"] = quantise(ro[key])
            else:
                out[key] = ro[key]
        np.savez_compressed(args.out / f"{model}.npz", **out)
    total = 0
    for f in sorted(args.out.glob("*.npz")):
        total += f.stat().st_size
        print(f"{f.relative_to(ROOT)}: {f.stat().st_size / 1e6:.2f} MB")
    print(f"total {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
