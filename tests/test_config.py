"""Configuration files: flat or in tables, nearest-key errors, checks, paths."""

from pathlib import Path

import pytest

from pyunlocbox_gae.audio.cqt import CQTParams
from pyunlocbox_gae.errors import MissingFileError
from pyunlocbox_gae.experiments import config
from pyunlocbox_gae.experiments.settings import DEFAULTS, cqt_params, read_toml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gtzan.toml"


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"cqt": {"n_bin": 84}}, r"\[cqt\] 'n_bin' \(did you mean 'n_bins'\?\)"),
        ({"autoencoder": {"n_atom": 1}}, r"did you mean 'n_atoms'\?"),
        ({"classifcation": {}}, r"table 'classifcation' \(did you mean 'classif"),
        ({"ouput": "x"}, r"key 'ouput' \(did you mean 'output'\?\)"),
        ({"cqt": "C2"}, r"unknown config key 'cqt'"),
        ({"k": 5, "graph": {"k": 6}}, r"'k' is given twice"),
        ({"graph": {"seed": 1}}, r"unknown config key \[graph\] 'seed'"),
    ],
)
def test_unknown_and_repeated_keys_are_named(raw, match):
    with pytest.raises(ValueError, match=match):
        config.flatten(raw)


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"cqt": {"n_bins": 84.5}}, r"config key n_bins must be an int"),
        ({"cqt": {"n_bins": True}}, r"config key n_bins must not be a boolean"),
        ({"input": {"log": 1}}, r"config key log must be an instance of 'bool'"),
        ({"input": {"scaling": "max"}}, r"config key scaling must be a str among"),
        ({"dataset": {"genres": "five"}}, r"config key genres must be"),
        ({"classification": {"protocols": ["kfold"]}}, r"protocol lists \['kfold'\]"),
        (
            {"classification": {"mode": "inductive", "protocol": "leaky"}},
            r"mode 'inductive' fits the model on each split's training clips",
        ),
    ],
)
def test_every_value_is_checked_before_anything_runs(raw, match):
    with pytest.raises(ValueError, match=match):
        config.load_config(raw)


def test_tables_only_group_seeds_take_their_stage_name():
    flat = config.flatten(
        {
            "data": "genres",
            "input": {"seed": 3},
            "autoencoder": {"seed": 4, "mode": "inductive"},
            "classification": {"seed": 5, "scaling": "none", "protocols": ["leaky"]},
        }
    )
    assert flat == dict(
        dataset="genres",
        noise_seed=3,
        random_state=4,
        mode="inductive",
        cv_seed=5,
        scaler="none",
        protocol=["leaky"],
    )
    assert config.flatten({"graph": {"k": 5}}) == config.flatten({"k": 5})


def test_defaults_are_light_and_the_study_is_the_preset():
    assert (DEFAULTS["max_outer"], DEFAULTS["max_inner"]) == (15, 100)
    assert (DEFAULTS["classifier"], DEFAULTS["protocol"]) == ("linear_svc", "grouped")
    assert DEFAULTS["short_clips"] == "keep" and DEFAULTS["mode"] == "transductive"
    study = config.flatten(read_toml(EXAMPLE))
    assert study["classifier"] == "svc" and study["protocol"] == ["grouped", "leaky"]
    assert (study["max_outer"], study["rtol"], study["max_inner"]) == (50, 1e-5, 500)
    assert study["scaler"] == "none" and study["baseline_scaler"] == "minmax"
    p = cqt_params(dict(DEFAULTS, **study))
    assert isinstance(p, CQTParams) and p.frame_shape == (149, 2, 96)


def test_example_config_paths_are_relative_to_it(tmp_path):
    # the preset names ../data/genres, which this checkout does not hold
    with pytest.raises(MissingFileError, match=r"data/genres' does not exist"):
        config.load_config(EXAMPLE)
    (tmp_path / "genres").mkdir()
    copy = tmp_path / "run.toml"
    copy.write_text(EXAMPLE.read_text().replace("../data/genres", "genres"))
    cfg, output = config.load_config(copy)
    assert cfg["dataset"] == str(tmp_path / "genres")
    assert output == tmp_path / "../results/gtzan"
    assert cfg["frames_per_clip"] == 149 and cfg["genres"] == 5


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file .*none.toml does not"):
        config.load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[cqt\nn_bins = 3")
    with pytest.raises(ValueError, match="bad.toml is not valid TOML"):
        config.load_config(bad)
    (tmp_path / "genres").mkdir()
    absolute = tmp_path / "abs.toml"
    absolute.write_text(f'data = "{tmp_path}/genres"\noutput = "out"\n')
    cfg, output = config.load_config(absolute)
    assert cfg["dataset"] == f"{tmp_path}/genres"
    assert output == tmp_path / "out"
