"""Graph codes of new samples inside a scikit-learn pipeline, cross-validated.

A data set that ships with scikit-learn (digits by default; ``--dataset
wine`` or ``breast_cancer``) or a feature file (``--dataset features.csv``,
read by :func:`pyunlocbox_gae.experiments.read_features`: a label column
``label``), features scaled to [0, 1], Gaussian noise of the given std.
For each noise level, 5-fold stratified cross-validation of

* ``pipeline lg=0``: ``make_pipeline(GraphAutoEncoder(lg=0), StandardScaler(),
  LinearSVC())``, no graph (the whole-batch codes step, ``batch_size=None``,
  as with a graph);
* ``pipeline lg>0``: the same with the graph term; each fold's fit builds
  the k-NN graph of its training samples only, and ``transform`` codes the
  test samples on that graph (``transform_algorithm='auto'``);
* ``pipeline lg>0, sparse_code``: the same model, test samples coded
  without the graph (what transform did before out-of-sample graph codes);
* ``transductive``: codes of all samples fitted at once (the graph sees the
  test samples), then the scaler and classifier cross-validated on them.

Then, with the encoder term (le > 0), on one 80/20 split: accuracy of the
test samples' out-of-sample graph codes and of the encoder's codes, their
relative distance, and the seconds each takes per 1,000 samples.

Run from the repository root::

    python benchmarks/bench_out_of_sample.py --noises 0.2 0.4 --out oos.json
    python benchmarks/bench_out_of_sample.py --dataset breast_cancer --noises 0.2
"""

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, minmax_scale
from sklearn.svm import LinearSVC

from pyunlocbox_gae import GraphAutoEncoder

PROTOCOLS = (
    "pipeline lg=0",
    "pipeline lg>0",
    "pipeline lg>0, sparse_code",
    "transductive",
)


# Real data sets that ship with scikit-learn (no download).
DATASETS = dict(digits=load_digits, wine=load_wine, breast_cancer=load_breast_cancer)


def load(name):
    """Features and labels of a scikit-learn data set or of a feature file."""
    if name in DATASETS:
        return DATASETS[name](return_X_y=True)
    from pyunlocbox_gae.experiments import read_features

    data = read_features(name)
    return data.X, data.y


def noisy_data(name, n_samples, noise, seed=0):
    """min-max scaled features of a data set plus Gaussian noise."""
    X, y = load(name)
    if n_samples < len(y):
        X, _, y, _ = train_test_split(
            X, y, train_size=n_samples, stratify=y, random_state=seed
        )
    X = minmax_scale(X).astype(np.float32)
    X += noise * np.random.default_rng(seed).standard_normal(X.shape, np.float32)
    return X, y


def classifier(*head):
    """`head` (e.g. the auto-encoder), then a scaler and a linear SVM."""
    return make_pipeline(*head, StandardScaler(), LinearSVC(C=0.1, max_iter=5000))


def cross_validate(X, y, gae, folds):
    """Accuracy (%) per fold of each protocol, and seconds spent."""
    out = {name: [] for name in PROTOCOLS}
    t = time.perf_counter()
    for train, test in folds.split(X, y):
        flat = classifier(clone(gae).set_params(lg=0.0)).fit(X[train], y[train])
        out["pipeline lg=0"].append(flat.score(X[test], y[test]))
        graph = classifier(clone(gae)).fit(X[train], y[train])
        out["pipeline lg>0"].append(graph.score(X[test], y[test]))
        # The same fitted pipeline, test samples coded without the graph.
        graph[0].set_params(transform_algorithm="sparse_code")
        out["pipeline lg>0, sparse_code"].append(graph.score(X[test], y[test]))
        print(
            f"  fold: {[round(100 * v[-1], 1) for v in out.values() if v]}", flush=True
        )
    Z = clone(gae).fit_transform(X)
    out["transductive"] = list(cross_val_score(classifier(), Z, y, cv=folds))
    seconds = time.perf_counter() - t
    return {k: (100 * np.mean(v), 100 * np.std(v)) for k, v in out.items()}, seconds


def encoder_against_graph(X, y, gae, le):
    """Accuracy and speed of encoder codes against out-of-sample graph codes."""
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    model = clone(gae).set_params(le=le).fit(X_tr)
    clf = classifier().fit(model.transform(X_tr), y_tr)
    out = {}
    batch = np.resize(X_te, (1000, X.shape[1]))  # 1,000 samples to time
    for algorithm in ("out_of_sample", "encoder"):
        model.set_params(transform_algorithm=algorithm)
        Z = model.transform(X_te)
        t = time.perf_counter()
        model.transform(batch)
        out[algorithm] = dict(
            accuracy=100 * clf.score(Z, y_te),
            seconds_per_1000=time.perf_counter() - t,
            codes=Z,
        )
    a, b = out["out_of_sample"].pop("codes"), out["encoder"].pop("codes")
    out["relative_distance"] = float(np.linalg.norm(a - b) / np.linalg.norm(a))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset",
        default="digits",
        help=f"{', '.join(sorted(DATASETS))} or a feature file (.csv, .npy, .h5)",
    )
    parser.add_argument("--noises", type=float, nargs="+", default=[0.2, 0.4])
    parser.add_argument("--n-samples", type=int, default=600)
    parser.add_argument("--n-atoms", type=int, default=64)
    parser.add_argument("--lg", type=float, default=10.0)
    parser.add_argument("--le", type=float, default=10.0)
    parser.add_argument("--max-outer", type=int, default=8)
    parser.add_argument(
        "--encoder-only", action="store_true", help="skip the cross-validation"
    )
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*converge.*")
    gae = GraphAutoEncoder(
        args.n_atoms,
        ld=10.0,
        ls=1.0,
        lg=args.lg,
        max_outer=args.max_outer,
        # The whole-batch codes step for lg = 0 too: the loop that every fit
        # with a graph runs, so that the rows differ by the graph term only.
        batch_size=None,
        random_state=0,
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    results = {"settings": vars(args)}
    for noise in args.noises:
        X, y = noisy_data(args.dataset, args.n_samples, noise)
        if args.encoder_only:
            rows, seconds = {}, 0.0
        else:
            rows, seconds = cross_validate(X, y, gae, folds)
        print(
            f"\n{args.dataset}, {len(y)} samples, noise {noise}, lg = {args.lg}: "
            f"{seconds:.0f} s"
        )
        print("| protocol | accuracy (%) |\n|---|---|")
        for name, (mean, std) in rows.items():
            print(f"| {name} | {mean:.1f} ± {std:.1f} |")
        enc = encoder_against_graph(X, y, gae, args.le)
        print(
            f"le = {args.le}: out-of-sample graph codes "
            f"{enc['out_of_sample']['accuracy']:.1f} %, "
            f"{enc['out_of_sample']['seconds_per_1000']:.2f} s / 1000 samples; "
            f"encoder {enc['encoder']['accuracy']:.1f} %, "
            f"{enc['encoder']['seconds_per_1000']:.4f} s / 1000 samples; "
            f"relative distance {enc['relative_distance']:.3f}",
            flush=True,
        )
        results[str(noise)] = dict(cv=rows, encoder=enc)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
