"""Planetoid-T's two branches on the test nodes: which one decides.

With ``classifier="branches"`` (the authors' preset) the model mixes a
softmax over the features and a softmax over the node's free embedding.
This script fits one seed and prints the test accuracy of each branch alone
and of the mix, how many test nodes the mix puts in each class, the mean
embedding norm of the labelled and of the test nodes (the supervised loss
moves only the former) and the spread of the feature branch's output.

    python benchmarks/bench_planetoid_branches.py --folder DIR --name pubmed \\
        --params '{"context_loss": "negative", "feature_scale": 9}'

``--params`` takes what ``bench_planetoid.py --params`` gives planetoid_t:
``preset`` (default ``authors``), ``feature_scale`` and any model parameter.
"""

import argparse
import json
import time

import numpy as np


def main():
    from pyunlocbox_gae.embeddings.planetoid import load_planetoid
    from pyunlocbox_gae.embeddings.planetoid._base import _softmax
    from pyunlocbox_gae.embeddings.planetoid.models import PlanetoidT

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", required=True, help="folder of Planetoid files")
    ap.add_argument("--name", default="pubmed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default="{}", help="JSON {parameter: value}")
    args = ap.parse_args()
    params = json.loads(args.params)
    preset = params.pop("preset", "authors")
    scale = float(params.pop("feature_scale", 1.0))
    data = load_planetoid(args.folder, args.name)
    X = data.features * scale
    model = PlanetoidT.from_preset(preset, random_state=args.seed, **params)
    if model.classifier != "branches":
        raise SystemExit("this script reads classifier='branches' models only")
    start = time.process_time()
    model.fit(X, data.y_train(), data.adjacency)
    seconds = time.process_time() - start
    p, test, y = model.params_, data.test, data.labels[data.test]
    feature = _softmax(np.asarray(X[test] @ p["W1"]) + p["b1"])
    embedding = _softmax(p["E"][test] @ p["W2"] + p["b2"])
    mixed = model.predict(test)
    norms = np.linalg.norm(p["E"], axis=1)
    print(f"{args.name} seed {args.seed} {preset} {params} feature_scale {scale}")
    print(
        f"  test accuracy: mix {(mixed == y).mean():.3f}, feature branch "
        f"{(feature.argmax(1) == y).mean():.3f}, embedding branch "
        f"{(embedding.argmax(1) == y).mean():.3f}"
    )
    print(f"  test nodes per predicted class: {np.bincount(mixed).tolist()}")
    print(
        f"  mean embedding norm: labelled {norms[data.train].mean():.3f}, "
        f"test {norms[test].mean():.3f}"
    )
    print(
        f"  feature branch output, std over test nodes per class: "
        f"{', '.join(f'{v:.3f}' for v in feature.std(axis=0))}"
    )
    print(
        f"  training loss {model.loss_curve_[0][0]:.2f} -> "
        f"{model.loss_curve_[-1][0]:.2f}; {seconds:.1f} s CPU"
    )


if __name__ == "__main__":
    main()
