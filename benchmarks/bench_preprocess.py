"""Preprocessing stage: CQT frames per second, and what full GTZAN would take.

Side by side in one process, on the same GTZAN-length clips (660,000 samples
at 22,050 Hz, synthetic audio written as 16-bit WAV like GTZAN's .au):

* ``cqt``: :func:`pyunlocbox_gae.audio.cqt.clip_cqt` alone (two streams of
  hop-1024 CQTs, the study's framing);
* ``one-stream``: a single ``librosa.cqt`` with hop 512 (the same frame
  centres), to show what the two-stream framing costs;
* ``preprocess``: the whole stage (read, CQT, per-clip flushed HDF5 writes,
  final copy), with its peak Python memory (tracemalloc).

Then extrapolates to full GTZAN (1,000 clips, 1,288,000 frames).

With ``--short N`` it also times, through
:func:`pyunlocbox_gae.audio.clips.clip_rows` (clips kept at their length and
transformed in batches), N one-second clips and the 30-second clips above,
and, on the first few short clips, librosa's CQT called clip by clip as it
is (the filter bank rebuilt for every stream of every clip); it prints CPU
and wall time per second of audio and their ratios.

    python benchmarks/bench_preprocess.py               # 10 clips
    python benchmarks/bench_preprocess.py --clips 3     # quicker
    python benchmarks/bench_preprocess.py --clips 3 --short 1000
"""

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import librosa
import numpy as np

from pyunlocbox_gae.audio.cqt import CQTParams, clip_cqt
from pyunlocbox_gae.audio.gtzan import read_clip
from pyunlocbox_gae.audio.preprocess import preprocess
from pyunlocbox_gae.audio.synthetic import make_dataset

GTZAN_CLIPS = 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=10, help="clips to time")
    parser.add_argument(
        "--short", type=int, default=0, help="also time this many 1-second clips"
    )
    args = parser.parse_args()
    params = CQTParams()
    seconds = params.clip_samples / params.sample_rate
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_dataset(
            tmp / "data",
            genres=1,
            clips_per_genre=args.clips,
            seconds=seconds + 0.1,
            sample_rate=params.sample_rate,
        )
        paths = sorted((data / "drone").iterdir())
        clips = [read_clip(p, params.sample_rate, params.clip_samples) for p in paths]
        clip_cqt(clips[0], params)  # librosa's filters and numba: warm up

        times = dict(cqt=[], one_stream=[])
        for y in clips:  # interleaved, so that load changes hit both alike
            t = time.perf_counter()
            clip_cqt(y, params)
            times["cqt"].append(time.perf_counter() - t)
            t = time.perf_counter()
            librosa.cqt(
                y,
                sr=params.sample_rate,
                hop_length=params.frame_hop,
                fmin=params.fmin_hz,
                n_bins=params.n_bins,
                bins_per_octave=params.bins_per_octave,
            )
            times["one_stream"].append(time.perf_counter() - t)

        t = time.perf_counter()
        report = preprocess(data, tmp / "frames.h5", params, progress=False)
        total = time.perf_counter() - t
        # Memory in a second run: tracemalloc slows librosa's many small
        # allocations several-fold, so it must not be on while timing.
        tracemalloc.start()
        preprocess(data, tmp / "again.h5", params, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if args.short:
            short_clips(args.short, params, data, args.clips * seconds)

    frames_per_clip = params.n_frames * params.n_streams
    print(f"{args.clips} clips of {seconds:.1f} s, {frames_per_clip} frames each\n")
    print(f"{'stage':<12}{'s/clip':>8}{'frames/s':>10}{'ratio':>7}")
    base = np.median(times["cqt"])
    for name, values in times.items():
        per = np.median(values)
        print(f"{name:<12}{per:>8.3f}{frames_per_clip / per:>10.0f}{per / base:>7.2f}")
    per = total / args.clips
    print(
        f"{'preprocess':<12}{per:>8.3f}{frames_per_clip / per:>10.0f}{per / base:>7.2f}"
    )
    print(f"\npreprocess peak Python memory: {peak / 2**20:.1f} MiB")
    size = report["n_frames"] * params.n_bins * 4
    print(f"frames file: {size / 2**20:.1f} MiB of float32 for {args.clips} clips")
    full = GTZAN_CLIPS * per
    print(
        f"full GTZAN ({GTZAN_CLIPS} clips, {GTZAN_CLIPS * frames_per_clip:,} "
        f"frames): about {full / 60:.0f} min on one core, frames file "
        f"{GTZAN_CLIPS * frames_per_clip * params.n_bins * 4 / 2**30:.2f} GiB"
    )


def _timed(function):
    c, w = time.process_time(), time.perf_counter()
    out = function()
    return out, time.process_time() - c, time.perf_counter() - w


def short_clips(n, params, long_data, long_seconds, unshared=20):
    """Time `n` one-second clips against the long clips, per second of audio."""
    from pyunlocbox_gae.audio.clips import clip_rows

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_dataset(
            tmp / "short",
            genres=1,
            clips_per_genre=n,
            seconds=1.0,
            sample_rate=params.sample_rate,
        )
        rows = lambda d, name: clip_rows(d, tmp / name, params, progress=False)  # noqa: E731
        out, cpu, wall = _timed(lambda: rows(data, "short.h5"))
        _, long_cpu, long_wall = _timed(lambda: rows(long_data, "long.h5"))
        paths = sorted((data / "drone").iterdir())[:unshared]

        def per_call():  # librosa's CQT as it is: filters built per call
            for path in paths:
                y = read_clip(path, params.sample_rate, params.clip_samples, "keep")
                for s in range(params.n_streams):
                    librosa.cqt(
                        y[s * params.frame_hop :],
                        sr=params.sample_rate,
                        hop_length=params.frame_size,
                        fmin=params.fmin_hz,
                        n_bins=params.n_bins,
                        bins_per_octave=params.bins_per_octave,
                    )

        _, ref_cpu, ref_wall = _timed(per_call)
    print(f"\nclip_rows, {len(out['rows'])} frames of {n} clips of 1 s:")
    print(f"{'input':<34}{'CPU ms/s audio':>15}{'wall ms/s':>10}{'CPU ratio':>10}")
    base = long_cpu / long_seconds
    for name, c, w, seconds in (
        ("30-s clips, clip_rows", long_cpu, long_wall, long_seconds),
        ("1-s clips, clip_rows", cpu, wall, n),
        (f"1-s clips, librosa per clip ({len(paths)})", ref_cpu, ref_wall, len(paths)),
    ):
        print(
            f"{name:<34}{1000 * c / seconds:>15.2f}{1000 * w / seconds:>10.2f}"
            f"{c / seconds / base:>10.2f}"
        )


if __name__ == "__main__":
    main()
