"""TOML configs: defaults, nearest-key errors, types, paths."""

from pathlib import Path

import pytest

from pyunlocbox_gae.audio.cqt import CQTParams
from pyunlocbox_gae.experiments import config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gtzan.toml"


@pytest.mark.parametrize(
    "raw, match",
    [
        (
            {"cqt": {"n_bin": 84}},
            r"unknown config key cqt.n_bin; did you mean 'n_bins'\?",
        ),
        ({"autoencoder": {"lamda_g": 1}}, r"unknown config key autoencoder.lamda_g$"),
        ({"autoencoder": {"n_atom": 1}}, r"did you mean 'n_atoms'\?"),
        ({"classifcation": {}}, r"config key classifcation; did you mean 'classif"),
        ({"ouput": "x"}, r"did you mean 'output'\?"),
        ({"graph": {"knn": 5}}, r"unknown config key graph.knn; did you mean 'k'\?"),
        ({"cqt": {"n_bins": 84.5}}, r"cqt.n_bins must be int, got float 84.5"),
        ({"cqt": {"n_bins": True}}, r"cqt.n_bins must be int, got bool"),
        ({"input": {"log": 1}}, r"input.log must be bool, got int 1"),
        ({"cqt": "C2"}, r"config key cqt must be a table"),
        ({"input": {"scaling": "max"}}, r"input.scaling must be one of \['minmax'"),
        ({"dataset": {"genres": "five"}}, r"dataset.genres must be 'all', an int"),
        ({"classification": {"protocols": ["kfold"]}}, r"'leaky', got 'kfold'"),
    ],
)
def test_bad_keys_and_values_are_named(raw, match):
    with pytest.raises(ValueError, match=match):
        config.check_config(raw)


def test_defaults_are_light_the_study_is_the_preset_and_ints_pass_as_floats():
    cfg = config.check_config({"autoencoder": {"ld": 3}})
    assert cfg["autoencoder"]["ld"] == 3
    d = config.default_config()
    assert (d["cqt"]["frame_size"], d["cqt"]["frame_hop"], d["cqt"]["n_bins"]) == (
        1024,
        512,
        96,
    )
    assert (d["autoencoder"]["ld"], d["autoencoder"]["ls"]) == (10.0, 1.0)
    assert d["classification"]["n_vectors"] == 6
    assert d["classification"]["classifier"] == "linear_svc"
    assert d["classification"]["protocols"] == ["grouped"]
    assert (d["autoencoder"]["max_outer"], d["autoencoder"]["max_inner"]) == (15, 100)
    study = config.load_config(EXAMPLE)
    assert study["classification"]["classifier"] == "svc"
    assert study["classification"]["protocols"] == ["grouped", "leaky"]
    assert (study["autoencoder"]["max_outer"], study["autoencoder"]["rtol"]) == (
        50,
        1e-5,
    )
    d["cqt"]["n_bins"] = 1  # a copy: the defaults are untouched
    assert config.default_config()["cqt"]["n_bins"] == 96


def test_example_config_loads_with_paths_relative_to_it():
    cfg = config.load_config(EXAMPLE)
    assert Path(cfg["data"]) == EXAMPLE.parent / "../data/genres"
    assert cfg["cqt"]["frames_per_clip"] == 149
    assert cfg["dataset"]["genres"] == 5
    p = CQTParams(**{**cfg["cqt"]})
    assert p.frame_shape == (149, 2, 96)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file .*none.toml does not"):
        config.load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[cqt\nn_bins = 3")
    with pytest.raises(ValueError, match="bad.toml is not valid TOML"):
        config.load_config(bad)
    absolute = tmp_path / "abs.toml"
    absolute.write_text(f'data = "{tmp_path}/genres"\noutput = "out"\n')
    cfg = config.load_config(absolute)
    assert cfg["data"] == f"{tmp_path}/genres"
    assert cfg["output"] == str(tmp_path / "out")
