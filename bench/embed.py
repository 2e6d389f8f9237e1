"""How fast the CNN embeddings run: seconds of audio per second of compute, per model, runtime and batch size.

    python bench/embed.py [--seconds 60] [--batch-sizes 1 2 4 8 16 32] [--repeats 3] [--threads N]
                          [--tracks 3] [--compile]

For each musicnn model it prints, side by side, the network alone on
prepared inputs under eager torch and under ONNX Runtime (one column per
batch size; ``--compile`` adds torch.compile), and the whole
``engine.neural.embed.embed`` call on a demo track (decoding excluded:
resampling to 16 kHz, log-mel, patching, inference) under each runtime.
Then the pipeline, decoding included, over ``--tracks`` demo tracks:
features then embeddings as two passes (two decodes), and
``analyze(..., embedding=...)`` (one decode per file) on 1 and on 2 jobs.
All as multiples of real time (x RT). Each figure is the best of
``--repeats`` rounds, each timing every measurement once (round-robin), so
that other work on the machine disturbs it less; the load average is
printed with it.

To see a plain AVX2 machine's figures on a newer CPU, run with
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` (torch only: ONNX
Runtime picks its kernels from the CPU and cannot be held back).

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
import contextlib
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.neural import embed, musicnn, vggish  # noqa: E402
from engine.neural.runtime import INFERENCE_ENV, onnx_runner  # noqa: E402
from engine.config import AnalysisConfig, EmbedConfig  # noqa: E402
from engine.errors import ModelError  # noqa: E402
from engine.run.embedding import embed_library  # noqa: E402
from engine.run.inputs import collect_inputs  # noqa: E402
from engine.run.pipeline import DEMO_DIR, analyze  # noqa: E402
from engine.store.core import Store  # noqa: E402

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

    def run(self, rounds: int, *, warm: bool = True) -> None:
        for fn, _ in self.tasks.values() if warm else ():
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


@contextlib.contextmanager
def _runtime(name: str):
    """Run the enclosed calls under eager ``torch`` or ``onnx`` (ONNX Runtime, the engine's CPU default)."""
    old = os.environ.get(INFERENCE_ENV)
    os.environ[INFERENCE_ENV] = name
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(INFERENCE_ENV, None)
        else:
            os.environ[INFERENCE_ENV] = old


def _onnx(net, inputs: np.ndarray, batch: int, threads: int):
    run_batch = onnx_runner(net, "penultimate", threads)

    def run() -> None:
        for i in range(0, inputs.shape[0], batch):
            run_batch(inputs[i : i + batch])

    return run


def _embed_under(runtime: str, y: np.ndarray, sr: int, cfg: EmbedConfig):
    def run() -> None:
        with _runtime(runtime):
            embed.embed(y, sample_rate=sr, config=cfg, track_id="b")

    return run


def _pipeline(way: str, tracks: list, jobs: int):
    """One way of analysing and embedding ``tracks`` from their files, into a fresh store each time."""

    def run() -> None:
        folder = Path(tempfile.mkdtemp(prefix="cratemap-bench-"))
        try:
            store = Store(folder / "store")
            if way == "two passes":
                result = analyze(tracks, store=store, jobs=jobs)
                embed_library(store, [t.track_id for t in result.tracks], analysis=AnalysisConfig(), config=EmbedConfig())
            else:
                analyze(tracks, store=store, jobs=jobs, embedding=EmbedConfig())
        finally:
            shutil.rmtree(folder, ignore_errors=True)

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
    parser.add_argument("--tracks", type=int, default=11, help="demo tracks for the pipeline rows, one round each (0: none)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (inductor; compiling takes minutes)")
    args = parser.parse_args(argv)

    threads = args.threads or embed._cpu_count()
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # embed() then leaves the count alone
    info = sf.info(DEMO)
    y, sr = sf.read(DEMO, dtype="float32", frames=int(args.seconds * info.samplerate), always_2d=True)
    y = y.mean(axis=1)
    y16 = soxr.resample(y, sr, 16_000, quality="HQ").astype(np.float32)
    seconds = y.size / sr
    print(f"# CrateMap embedding bench: {platform.processor() or platform.machine()}, torch {torch.__version__} "
          f"(kernels: {torch.backends.cpu.get_cpu_capability()}), {threads} threads, load average {os.getloadavg()[0]:.2f}")
    print(f"# audio: {DEMO.name}, first {seconds:.0f} s; best of {args.repeats} rounds; x RT = seconds of audio per second of compute\n")

    timer = Timer()
    models = ("musicnn", "musicnn-mtt", "msd-vgg")
    for model in models:
        net = embed.load_model(EmbedConfig(model=model))
        x = torch.from_numpy(embed.model_inputs(y16, sample_rate=16_000, model=model)[0])
        patch_s = x.shape[0] * musicnn.PATCH_SECONDS
        for b in args.batch_sizes:
            timer.add(f"{model} torch {b}", _network(net.module, x, b, False), patch_s)
            timer.add(f"{model} onnx {b}", _onnx(net, x.numpy(), b, threads), patch_s)
        for runtime in ("torch", "onnx"):
            timer.add(f"{model} embed-{runtime}", _embed_under(runtime, y, sr, EmbedConfig(model=model)), seconds)
        if args.compile and model == "musicnn":
            compiled = torch.compile(net.module)
            for b in args.batch_sizes:
                timer.add(f"{model} compiled {b}", _network(compiled, x, b, False), patch_s)
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
    tracks = collect_inputs([DEMO_DIR])[0][: args.tracks]
    track_s = sum(sf.info(t.path).duration for t in tracks)
    pipeline = Timer()  # minutes per run: one round, after the others
    for way, jobs in (("two passes", 1), ("two passes", 2), ("one decode", 1), ("one decode", 2)):
        if tracks:
            pipeline.add(f"pipeline {way} {jobs}", _pipeline(way, tracks, jobs), track_s)
    if tracks:
        _pipeline("one decode", tracks[:1], 1)()  # numba's and the model's first loads, outside the timing
        pipeline.run(1, warm=False)

    def row(label: str, what: str, prefix: str) -> list[float]:
        rates = [timer.rate(f"{prefix} {b}") for b in args.batch_sizes]
        print(f"{label:<28} {what:<30}" + "".join(f"{r:>8.1f}x" for r in rates))
        return rates

    header = f"{'model':<28} {'what':<30}" + "".join(f"{'bs=' + str(b):>9}" for b in args.batch_sizes)
    print(header)
    print("-" * len(header))
    best_end_to_end = {}
    for model in models:
        row(model, "network, eager torch", f"{model} torch")
        row("", "network, ONNX Runtime", f"{model} onnx")
        if args.compile and model == "musicnn":
            row("", "network, torch.compile", f"{model} compiled")
        torch_e2e, onnx_e2e = timer.rate(f"{model} embed-torch"), timer.rate(f"{model} embed-onnx")
        print(f"{'':<28} {'embed() from 44.1 kHz audio':<30} eager torch {torch_e2e:.1f}x, ONNX Runtime {onnx_e2e:.1f}x (default batch)")
        best_end_to_end[model] = max(torch_e2e, onnx_e2e)
        verdict = "meets" if onnx_e2e >= MUSICNN_TARGET else "MISSES"
        print(f"{'':<28} end to end as the engine runs it (ONNX Runtime) {onnx_e2e:.1f}x: {verdict} the {MUSICNN_TARGET:.0f}x target\n")
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
    if tracks:
        print(f"\n# pipeline from the files, decoding included: {len(tracks)} demo tracks, {track_s:.0f} s of audio; "
              "features and musicnn embeddings into a fresh store")
        for way, what in (("two passes", "analyze, then embed_library (two decodes)"), ("one decode", "analyze(embedding=...) (one decode per file)")):
            rates = [pipeline.rate(f"pipeline {way} {j}") for j in (1, 2)]
            print(f"{what:<58} jobs=1 {rates[0]:>6.1f}x   jobs=2 {rates[1]:>6.1f}x")
    print(f"\n# load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
