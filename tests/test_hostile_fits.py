"""No silent loss in fits and evaluations: impossible CV settings refused
before any work, degenerate fits reported with the term and the remedy, a
loaded model that never writes where its file says."""

import json
import warnings

import h5py
import numpy as np
import pytest

from pyunlocbox_gae import GraphAutoEncoder
from pyunlocbox_gae.errors import ConvergenceError, FileFormatError, InputError
from pyunlocbox_gae.experiments.config import load_config
from pyunlocbox_gae.model.diagnostics import DegenerateFitWarning

# ------------------------------------------------ 9: impossible CV settings


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            dict(protocols=["leaky"], n_repeats=0),
            r"n_repeats must be an int in the range \[1",
        ),
        (dict(protocols=["leaky"], n_splits=0), r"n_splits must be an int in .*got 0"),
        (
            dict(protocols=["grouped"], n_splits=1),
            r"n_splits must be an int in .*got 1",
        ),
        (dict(protocols=[]), "protocol lists nothing"),
        (
            dict(protocols=["leaky"], test_size=1.5),
            r"test_size must be a float in the range \(0",
        ),
    ],
)
def test_impossible_cv_settings_are_refused_by_the_config(settings, message):
    with pytest.raises(InputError, match=message):
        load_config(dict(classification=settings))


def test_gae_classify_with_zero_repeats_exits_with_one_line(tmp_path, capsys):
    from pyunlocbox_gae.cli import main

    status = main(["classify", str(tmp_path / "f.h5"), "--protocol", "leaky",
                   "--n-repeats", "0"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and "n_repeats must be an int in the range [1" in err


# ------------------------------------------------ 12: degenerate fits


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((60, 8))


def _fit(X, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GraphAutoEncoder(n_atoms=4, max_outer=4, random_state=0, **params)
        Z = model.fit_transform(X)
    found = [str(w.message) for w in caught if w.category is DegenerateFitWarning]
    return Z, found


def test_all_zero_codes_are_reported_with_the_weight_to_lower(X):
    Z, found = _fit(X, ls=1e6)
    assert not Z.any()
    assert len(found) == 1 and "every code is zero" in found[0]
    assert "ls=1e+06" in found[0] and "lower ls below about" in found[0]


def test_underflowing_weights_are_reported_in_float32(X):
    # The whole-batch codes step: its float32 step underflows to zero codes.
    Z, found = _fit(X.astype(np.float32), ld=1e300, batch_size=None)
    assert not Z.any()
    assert any("within a factor 1e+08 of overflow" in f for f in found)
    assert any("divide all weights by the same factor" in f for f in found)


def test_overflowing_weights_stop_the_fit_in_blocks_with_the_cure(X):
    # The codes step in blocks keeps its step in float64 and finds the codes;
    # the dictionary step's float32 gradient then overflows: named, with a cure.
    with pytest.raises(ConvergenceError, match=r"dictionary step: .*lower the weight"):
        _fit(X.astype(np.float32), ld=1e300)


def test_no_progress_from_the_start_names_the_graph_weight(X):
    Z, found = _fit(X, lg=1e12)
    residual = np.linalg.norm(X - Z @ _fit_model(X, lg=1e12).components_)
    assert residual / np.linalg.norm(X) > 0.99
    assert len(found) == 1 and "no progress from the start" in found[0]
    assert "the graph term (lg=1e+12)" in found[0] and "lower lg" in found[0]


def _fit_model(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        return GraphAutoEncoder(n_atoms=4, max_outer=4, random_state=0, **params).fit(X)


def test_overflowing_float32_data_raises(X):
    with pytest.raises(ConvergenceError):
        _fit((X * 3e38).astype(np.float32))


def test_a_sound_fit_is_not_reported(X):
    Z, found = _fit(X)
    assert found == [] and Z.any()


# ------------------------------------------------ 13: a loaded model's paths


def test_a_loaded_model_never_writes_to_the_checkpoint_its_file_names(X, tmp_path):
    path = tmp_path / "model.h5"
    _fit_model(X).save(path)
    planted = tmp_path / "elsewhere.h5"
    with h5py.File(path, "r+") as f:
        params = json.loads(f.attrs["params"])
        f.attrs["params"] = json.dumps(dict(params, checkpoint=str(planted)))
    model = GraphAutoEncoder.load(path)
    assert model.checkpoint is None
    model.fit(X)
    assert not planted.exists()
    model.set_params(checkpoint=tmp_path / "mine.h5").fit(X)
    assert (tmp_path / "mine.h5").exists()


def test_a_model_file_with_non_finite_components_is_refused(X, tmp_path):
    path = tmp_path / "model.h5"
    _fit_model(X).save(path)
    with h5py.File(path, "r+") as f:
        f["components"][0, 0] = np.nan
    with pytest.raises(FileFormatError, match="non-finite"):
        GraphAutoEncoder.load(path)
