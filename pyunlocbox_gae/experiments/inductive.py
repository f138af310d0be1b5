r"""Codes learned on the training clips only; test clips coded as new samples.

The study's protocol is transductive (``mode = "transductive"``, the
default): the graph joins every row, the codes of all rows are learned at
once, and only the classifier is cross-validated. Two other values of
``mode`` learn the model inside each split instead:

* ``"inductive"``: for each split of the protocol, the graph, the
  dictionary and the encoder are learned on the training rows (noisy, as
  every row); the test rows are then coded by the fitted model as new
  samples (:meth:`~pyunlocbox_gae.GraphAutoEncoder.transform`);
* ``"clean_train"``: the same, with the model learned on the *clean*
  training rows (scaled, no noise) and the test rows noisy (noise
  ``noise``, the same draw as the other protocols): a model trained once,
  applied to degraded recordings.

Test rows are coded in every way the fitted model allows, each scored by
the same split's classifier (trained on the training codes):
``out_of_sample`` (each test row joined to its nearest training rows, its
code tied to their fixed training codes; needs ``lg > 0``), ``encoder``
(the soft-thresholded encoder; needs ``le > 0``) and ``sparse_code`` (the
learned dictionary, no graph). ``transform_algorithm`` names the one
reported as ``accuracy`` (``"auto"``: ``out_of_sample`` with a graph, else
``sparse_code``; ``"graph"``, a graph among the test rows, is scored when
named). The raw-feature baseline is trained and tested on the same
rows (clean training rows for ``"clean_train"``).

The rows are scaled once over all rows without their labels, as in the
transductive protocol, so that only the learning of the codes differs.

.. autosummary::
    MODES
    codings_of
    reported_coding
    inductive_record
"""

import json

import numpy as np
from tqdm.auto import tqdm

from pyunlocbox_gae import store
from pyunlocbox_gae.experiments import scoring, sources, stages
from pyunlocbox_gae.experiments.settings import group

MODES = ("transductive", "inductive", "clean_train")


def codings_of(config):
    """The ways the fitted model of `config` codes test rows (all scored).

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> codings_of(make_config(lg=10, le=0))
    ['out_of_sample', 'sparse_code']
    >>> codings_of(make_config(lg=0, le=1))
    ['encoder', 'sparse_code']
    """
    out = ["out_of_sample"] if config["lg"] else []
    out += (["encoder"] if config["le"] else []) + ["sparse_code"]
    named = config["transform_algorithm"]
    return out + [named] if named not in ("auto", *out) else out


def reported_coding(config):
    """The test coding reported as ``accuracy`` (``auto`` resolved).

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> reported_coding(make_config(lg=10)), reported_coding(make_config(lg=0))
    ('out_of_sample', 'sparse_code')
    """
    if config["transform_algorithm"] != "auto":
        return config["transform_algorithm"]
    return "out_of_sample" if config["lg"] else "sparse_code"


def _vectors(F, rows, data, config):
    """Pooled vectors of rows F (the rows `rows` of data), their labels, clips."""
    clips = None if data.clips is None else data.clips[rows]
    V, owner = scoring.pool(F, clips, config["pooling"], config["n_vectors"])
    if clips is None:
        return V, data.y[rows], owner
    return V, data.y[rows][stages.clip_starts(clips)][owner], owner


def _score(F_train, F_test, train, test, data, config, scaler=None):
    """Scores (every scoring, %) of a classifier fitted on F_train, on F_test."""
    V, y, _ = _vectors(F_train, train, data, config)
    scaler = config["scaler"] if scaler in (None, "same") else scaler
    model = scoring.classifier(config["C"], scaler, config["classifier"]).fit(V, y)
    V, y, owner = _vectors(F_test, test, data, config)
    return scoring.score_all(model, V, y, owner)


def _splits(data, config):
    """Train/test rows of each split of the protocol (clips kept whole)."""
    owner = scoring.pool(np.empty((len(data.y), 0)), data.clips, "none")[1]
    y_clip, groups = stages.clip_labels(data)
    return list(
        scoring.vector_splits(owner, y_clip, groups, **group(config, "classifier"))
    )


def _run(X_train_rows, X_test_rows, data, config, progress):
    """Per split: fit on training rows, code test rows, score; plus the baseline."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    codings = codings_of(config)
    scores = {c: [] for c in codings}
    baseline, fits = [], []
    splits = _splits(data, config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for train, test in tqdm(
            splits, "splits", disable=not progress, leave=False, unit="split"
        ):
            with stages.measure() as fit:
                model = stages.estimator(config, build_graph=True)
                Z_train = model.fit_transform(X_train_rows[train])
            with stages.measure() as code:
                for c in codings:
                    model.set_params(transform_algorithm=c)
                    Z_test = model.transform(X_test_rows[test])
                    scores[c].append(_score(Z_train, Z_test, train, test, data, config))
            if config["baseline"]:
                raw = X_train_rows[train], X_test_rows[test]
                scaler = config["baseline_scaler"]
                baseline.append(_score(*raw, train, test, data, config, scaler))
            fits.append(
                dict(
                    seconds_fit=fit["seconds"],
                    seconds_transform=code["seconds"],
                    peak_mib=max(fit["peak_mib"], code["peak_mib"]),
                    history=model.history_,
                    nnz=float(np.mean(Z_train != 0)),
                )
            )
    return scores, baseline, fits


def _summary(name, per_split, scoring_name):
    values = [s[scoring_name] for s in per_split]
    return {name: float(np.mean(values)), f"{name}_std": float(np.std(values))}, values


def inductive_record(data, config, cache=None, progress=False):
    """The record of a point with ``mode`` ``"inductive"`` or ``"clean_train"``.

    Parameters
    ----------
    data : Data
        Raw rows (:class:`~.sources.Data`), before scaling and noise.
    config : dict
        A full configuration (:func:`~.settings.make_config`).
    cache : Cache, optional
        Where the record is kept (one file for the whole point).
    progress : bool
        Show a progress bar over the splits.

    Returns
    -------
    dict
        As :func:`~.sweep.run_point`'s record: ``accuracy``,
        ``accuracy_std`` and ``scores`` (the reported test coding,
        ``transform_algorithm``), ``accuracy_<c>`` and ``accuracy_<c>_std``
        for each test coding ``c`` of :func:`codings_of`, ``baseline``,
        ``baseline_std``, ``baseline_scores``, ``mode``,
        ``transform_algorithm``,
        ``protocol``, ``seconds_codes`` (all fits), ``seconds_transform``
        (all test codings), ``peak_mib_codes``, ``n_outer`` and ``z_iter``
        (summed over the splits), ``nnz`` (training codes, mean over the
        splits) and the objective terms and ``history`` of the first split's
        fit.

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> cfg = make_config(n_samples=100, n_atoms=16, max_outer=2, n_repeats=1,
    ...                   n_splits=3, lg=10, noise=0.1, mode="clean_train")
    >>> record = inductive_record(sources.load_source(cfg), cfg)
    >>> record["mode"], len(record["scores"]), "accuracy_sparse_code" in record
    ('clean_train', 3, True)
    """
    cache = cache or stages.Cache(None)
    clean = sources.prepare(data.X, config["scaling"], 0.0, 0, config["log"])
    noisy = sources.prepare(
        data.X, config["scaling"], config["noise"], config["noise_seed"], config["log"]
    )
    train_rows = clean if config["mode"] == "clean_train" else noisy
    key = stages.key_of(
        "inductive",
        store.fingerprint(noisy),
        store.fingerprint(train_rows),
        store.fingerprint(data.y),
        None if data.clips is None else store.fingerprint(data.clips),
        {n: group(config, n) for n in ("graph", "estimator", "classifier")},
    )
    path = cache.path("inductive", key)
    if cache.has("inductive", key):
        with store.open_h5(path, "experiment-inductive") as f:
            return dict(json.loads(f.attrs["info"]), cached_codes=True)
    scores, baseline, fits = _run(train_rows, noisy, data, config, progress)
    name = config["scoring"]
    reported = reported_coding(config)
    record = dict(mode=config["mode"], transform_algorithm=reported)
    for c, per_split in scores.items():
        summary, values = _summary(f"accuracy_{c}", per_split, name)
        record.update(summary)
        if c == reported:
            record.update(
                accuracy=summary[f"accuracy_{c}"],
                accuracy_std=summary[f"accuracy_{c}_std"],
                scores=values,
            )
    if baseline:
        summary, values = _summary("baseline", baseline, name)
        record.update(summary, baseline_scores=values)
    counts = np.bincount(stages.clip_labels(data)[0])
    history = [h for fit in fits for h in fit["history"]]
    last = fits[0]["history"][-1]
    record.update(
        chance=100 * counts.max() / counts.sum(),
        protocol=config["protocol"],
        seconds_codes=sum(f["seconds_fit"] for f in fits),
        seconds_transform=sum(f["seconds_transform"] for f in fits),
        peak_mib_codes=max(f["peak_mib"] for f in fits),
        n_outer=len(history),
        z_iter=sum(h["z_iter"] + h.get("z_final_iter", 0) for h in history),
        d_iter=sum(h["d_iter"] for h in history),
        nnz=float(np.mean([f["nnz"] for f in fits])),
        objective=float(last["objective"]),
        history=fits[0]["history"],
        cached_codes=False,
    )
    from pyunlocbox_gae.model.estimator import TERMS

    for term in TERMS:
        record[term] = float(last[term])
        record[f"{term}_unweighted"] = float(last[f"{term}_unweighted"])
    if path is not None:
        info = json.dumps(record, default=float)
        with store.write_h5(path, "experiment-inductive", info=info):
            pass
    return record
