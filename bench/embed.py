"""How fast the CNN embeddings run: seconds of audio per second of compute, per model and batch size.

    python bench/embed.py [--seconds 60] [--batch-sizes 1 2 4 8 16 32] [--repeats 3] [--threads N]

For each model it prints, side by side, the network alone on prepared inputs
(one row per batch size) and the whole ``engine.neural.embed.embed`` call on a demo
track (decoding excluded: resampling to 16 kHz, log-mel, patching,
inference), as multiples of real time (x RT). Each figure is the best of
``--repeats`` rounds, each timing every measurement once (round-robin), so
that other work on the machine disturbs it less; the load average is
printed with it.

VGGish: the bench builds torchvggish's real architecture and fills it with
weights **it generates itself** (seeded noise). Those rows are labelled
"speed only": they time the network's arithmetic, which does not depend on
the values; the engine never runs VGGish without real weights. When real
weights are found (``engine.neural.vggish.find_weights``), the end-to-end VGGish row
uses them instead.

Targets (issue): musicnn >= 50x real time on 2 CPU cores (the original
TensorFlow code managed 23-27x here), VGGish >= 40x.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.neural import embed, musicnn, vggish  # noqa: E402
from engine.config import EmbedConfig  # noqa: E402
from engine.errors import ModelError  # noqa: E402

DEMO = ROOT / "demo" / "JDruid-Trip_on_the_Funny_Boat.ogg"
MUSICNN_TARGET, VGGISH_TARGET = 50.0, 40.0


class Timer:
    """Best-of-N wall times of many measurements, taken round-robin.

    Each round times every measurement once, so a burst of other work on the
    machine slows one round of everything rather than every run of one
    column; the best of the rounds is kept.
    """

    def __init__(self) -> None:
        self.tasks: dict[str, tuple] = {}
        self.best: dict[str, float] = {}

    def add(self, key: str, fn, audio_seconds: float) -> None:
        self.tasks[key] = (fn, audio_seconds)

    def run(self, rounds: int) -> None:
        for fn, _ in self.tasks.values():
            fn()  # warm-up: first-call allocations, oneDNN kernel selection
        for _ in range(rounds):
            for key, (fn, _) in self.tasks.items():
                t0 = time.perf_counter()
                fn()
                self.best[key] = min(self.best.get(key, float("inf")), time.perf_counter() - t0)

    def rate(self, key: str) -> float:
        """Seconds of audio per second of compute."""
        return self.tasks[key][1] / self.best[key]


def _network(module, inputs: torch.Tensor, batch: int, vggish_input: bool):
    def run() -> None:
        with torch.inference_mode():
            for i in range(0, inputs.shape[0], batch):
                x = inputs[i : i + batch]
                module(x.unsqueeze(1) if vggish_input else x)

    return run


def _speed_only_vggish() -> torch.nn.Module:
    torch.manual_seed(0)
    module = vggish.build()  # untrained on purpose: SPEED ONLY, never used for results
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.01)
    return module.eval().requires_grad_(False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of the demo track to embed")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the best time of each measurement is kept")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = the CPUs this process may use")
    args = parser.parse_args(argv)

    threads = args.threads or embed._cpu_count()
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # embed() then leaves the count alone
    info = sf.info(DEMO)
    y, sr = sf.read(DEMO, dtype="float32", frames=int(args.seconds * info.samplerate), always_2d=True)
    y = y.mean(axis=1)
    y16 = soxr.resample(y, sr, 16_000, quality="HQ").astype(np.float32)
    seconds = y.size / sr
    print(f"# CrateMap embedding bench: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{threads} threads, load average {os.getloadavg()[0]:.2f}")
    print(f"# audio: {DEMO.name}, first {seconds:.0f} s; best of {args.repeats} rounds; x RT = seconds of audio per second of compute\n")

    timer = Timer()
    models = ("musicnn", "musicnn-mtt", "msd-vgg")
    for model in models:
        net = musicnn.load(embed.MUSICNN_MODELS[model])
        x = torch.from_numpy(embed.model_inputs(y16, sample_rate=16_000, model=model)[0])
        for b in args.batch_sizes:
            timer.add(f"{model} net {b}", _network(net.module, x, b, False), x.shape[0] * musicnn.PATCH_SECONDS)
            cfg = EmbedConfig(model=model, batch_size=b)
            timer.add(f"{model} embed {b}", lambda cfg=cfg: embed.embed(y, sample_rate=sr, config=cfg, track_id="b"), seconds)
    speed_only = _speed_only_vggish()
    ex = torch.from_numpy(vggish.examples(y16))
    for b in args.batch_sizes:
        timer.add(f"vggish net {b}", _network(speed_only, ex, b, True), ex.shape[0] * vggish.EXAMPLE_SECONDS)
    timer.add("vggish prep", lambda: embed.model_inputs(y, sample_rate=sr, model="vggish"), seconds)
    try:
        found = vggish.find_weights()
    except ModelError:
        found = None
    else:
        for b in args.batch_sizes:
            cfg = EmbedConfig(model="vggish", batch_size=b)
            timer.add(f"vggish embed {b}", lambda cfg=cfg: embed.embed(y, sample_rate=sr, config=cfg, track_id="b"), seconds)
    timer.run(args.repeats)

    def row(label: str, what: str, prefix: str) -> list[float]:
        rates = [timer.rate(f"{prefix} {b}") for b in args.batch_sizes]
        print(f"{label:<28} {what:<30}" + "".join(f"{r:>8.1f}x" for r in rates))
        return rates

    header = f"{'model':<28} {'what':<30}" + "".join(f"{'bs=' + str(b):>9}" for b in args.batch_sizes)
    print(header)
    print("-" * len(header))
    for model in models:
        row(model, "network (3-s patches)", f"{model} net")
        best = max(row("", "embed() from 44.1 kHz audio", f"{model} embed"))
        verdict = "meets" if best >= MUSICNN_TARGET else "MISSES"
        print(f"{'':<28} best end to end {best:.1f}x: {verdict} the {MUSICNN_TARGET:.0f}x target\n")
    best_net = max(row("vggish (SPEED ONLY: weights", "network (0.96-s examples)", "vggish net"))
    prep = timer.rate("vggish prep")
    print(f"{' the bench generated)':<28} {'preprocessing alone':<30}{prep:>8.1f}x")
    combined = 1.0 / (1.0 / best_net + 1.0 / prep)
    verdict = "meets" if combined >= VGGISH_TARGET else "MISSES"
    print(f"{'':<28} best network + preprocessing {combined:.1f}x: {verdict} the {VGGISH_TARGET:.0f}x target")
    if found is None:
        print(f"{'':<28} (no real VGGish weights here: no end-to-end embed() row)")
    else:
        row("vggish (real weights)", "embed() from 44.1 kHz audio", "vggish embed")
    print(f"\n# load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
