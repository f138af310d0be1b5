"""Figures: drawn where the caller says, zoomed on the data, backend untouched."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import run_python
from pyunlocbox_gae.experiments import plotting


def _payload():
    """A demo result whose graph codes beat the others by a planted margin."""
    rng = np.random.default_rng(0)
    noises = [0.0, 0.1, 0.2]
    reps = ["raw", "codes, lg=0", "codes, lg=100"]
    gain = {"raw": 0.0, "codes, lg=0": 1.0, "codes, lg=100": 5.0}
    rows, table = [], {rep: [] for rep in reps}
    for noise in noises:
        base = 95 - 20 * noise + rng.normal(0, 0.5, 6)
        for rep in reps:
            scores = list(base + gain[rep] * (noise > 0))
            table[rep].append([float(np.mean(scores)), float(np.std(scores))])
            lg = 100 if rep.endswith("100") else (0 if "lg" in rep else None)
            rows.append(dict(representation=rep, noise=noise, lg=lg, scores=scores))
    return dict(
        noises=noises, representations=reps, table=table, chance=10.2, rows=rows
    )


def test_import_leaves_the_backend_alone():
    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        "import pyunlocbox_gae.experiments.plotting\n"
        "print(matplotlib.get_backend())"
    )
    out = run_python(code)
    assert out.strip() == "svg"


def test_functions_draw_into_the_given_axes_and_return_its_figure():
    fig, axes = plt.subplots(1, 3)
    try:
        assert plotting.plot_accuracy([1, 2], [90, 91], [1, 1], ax=axes[0]) is fig
        assert plotting.plot_atoms(np.eye(16), ax=axes[1]) is fig
        assert plotting.plot_differences(_payload(), ax=axes[2]) is fig
        assert all(ax.has_data() for ax in axes)
    finally:
        plt.close(fig)


def test_accuracy_axis_is_zoomed_on_the_data_with_chance_written():
    fig = plotting.plot_demo(_payload())
    try:
        ax = fig.axes[0]
        low, high = ax.get_ylim()
        assert 80 < low < 90 and 95 < high <= 100  # not stretched down to 10 %
        assert any("chance: 10.2 %" in t.get_text() for t in ax.texts)
    finally:
        plt.close(fig)


def test_paired_differences_recover_the_planted_gain():
    diffs = plotting.paired_differences(_payload())
    assert sorted(diffs) == ["codes, lg=100 − codes, lg=0"]
    noises, per_fold = diffs["codes, lg=100 − codes, lg=0"]
    assert noises == [0.0, 0.1, 0.2]
    np.testing.assert_allclose(per_fold[0], 0.0, atol=1e-9)
    np.testing.assert_allclose(per_fold[2], 4.0, atol=1e-9)


def test_controls_are_compared_too():
    payload = _payload()
    payload["representations"].append("control: shuffled graph")
    for row in [r for r in payload["rows"] if r["representation"] == "raw"]:
        payload["rows"].append(dict(row, representation="control: shuffled graph"))
    assert "codes, lg=100 − control: shuffled graph" in plotting.paired_differences(
        payload
    )


def test_saving_closes_only_figures_made_here(tmp_path):
    before = plt.get_fignums()
    plotting.plot_demo(_payload(), tmp_path / "demo.png")
    assert plt.get_fignums() == before
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"
    fig, ax = plt.subplots()
    try:
        plotting.plot_accuracy([1, 2], [90, 91], [1, 1], tmp_path / "a.png", ax=ax)
        assert plt.fignum_exists(fig.number)
    finally:
        plt.close(fig)


def test_atoms_of_images_are_tiles_separated_by_blank_lines():
    atoms = np.arange(4 * 64, dtype=float).reshape(4, 64) - 100
    image = plotting.atoms_mosaic(atoms)
    assert image.shape == (17, 17)  # 2 x 2 tiles of 8 x 8, one blank line between
    assert np.isnan(image[8]).all() and np.isnan(image[:, 8]).all()
    assert np.nanmax(np.abs(image[:8, :8])) == pytest.approx(1.0)
