"""Frame classification on digits: each image a clip of its 8 pixel rows.

scikit-learn's digits have no clips, so this benchmark makes them: each
8×8 image is a clip of 8 frames (its rows, 8 pixels each), labelled with
the digit, and goes through the experiment chain
(:func:`pyunlocbox_gae.experiments.run_point` with a
:class:`~pyunlocbox_gae.experiments.Data` of rows and clips). For each
pooling, the record's accuracies by every scoring are printed: per vector
(a row with ``pooling="none"``), per clip by majority vote, per clip by the
mean decision score; codes (graph over the rows) and the raw rows.

Run from the repository root::

    python benchmarks/bench_frames.py --noise 0.2 --out frames.json
"""

import argparse
import json
import time

import numpy as np
from sklearn.datasets import load_digits

from pyunlocbox_gae import experiments


def digit_rows():
    """Rows (n_images * 8, 8), the label of each row, the image of each row."""
    digits = load_digits()
    X = digits.images.reshape(-1, 8)  # image i's rows are 8i ... 8i + 7
    clips = np.repeat(np.arange(len(digits.images)), 8)
    return experiments.Data(
        X, digits.target[clips], [str(c) for c in range(10)], clips=clips
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--lg", type=float, default=10.0)
    parser.add_argument("--n-atoms", type=int, default=16)
    parser.add_argument("--poolings", nargs="+", default=["mean", "meanmax", "none"])
    parser.add_argument("--out", help="JSON file of the records")
    args = parser.parse_args()
    data = digit_rows()
    records = {}
    print(
        f"{'pooling':<9}{'features':<7}{'per vector':>13}{'clip vote':>13}"
        f"{'clip mean':>13}"
    )
    for pooling in args.poolings:
        config = experiments.make_config(
            noise=args.noise,
            lg=args.lg,
            n_atoms=args.n_atoms,
            pooling=pooling,
            controls=[],
            n_repeats=1,
        )
        start = time.perf_counter()
        record, _ = experiments.run_point(config, data=data)
        record["seconds"] = time.perf_counter() - start
        records[pooling] = {k: v for k, v in record.items() if k != "history"}
        for name, key in (("codes", "accuracy"), ("raw", "baseline")):
            cells = [
                f"{record[f'{key}_{s}']:.1f} ± {record[f'{key}_{s}_std']:.1f}"
                for s in ("vector", "clip", "clip_mean")
            ]
            print(f"{pooling:<9}{name:<7}" + "".join(f"{c:>13}" for c in cells))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
