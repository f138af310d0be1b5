"""Every tutorial runs to completion at reduced size and writes its figures."""

import runpy
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"
FIGURES = {
    "plot_1_compose_objective.py": ["tutorial1_objective.png"],
    "plot_2_solvers.py": ["tutorial2_solvers.png", "tutorial2_total_variation.png"],
    "plot_3_gabor_atoms.py": ["tutorial3_atoms.png"],
    "plot_4_genre_recognition.py": ["tutorial4_genres.png"],
    "plot_5_noise_robustness.py": ["tutorial5_noise_robustness.png"],
    "plot_6_graph_denoising.py": ["tutorial6_graph_denoising.png"],
}


def test_every_tutorial_is_tested():
    assert sorted(p.name for p in TUTORIALS.glob("plot_*.py")) == sorted(FIGURES)


@pytest.mark.parametrize("script", sorted(FIGURES))
def test_tutorial_runs_and_writes_figures(script, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAE_TUTORIALS_SIZE", "0.1")
    monkeypatch.delenv("GAE_GTZAN", raising=False)
    monkeypatch.setattr(sys, "argv", [script, str(tmp_path)])
    runpy.run_path(str(TUTORIALS / script), run_name="__main__")
    for name in FIGURES[script]:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
    assert "wrote" in capsys.readouterr().out


def test_tutorial_docstrings_have_titles():
    for script in FIGURES:
        text = (TUTORIALS / script).read_text()
        lines = text.split('"""')[1].strip().splitlines()
        # sphinx-gallery: a title underlined with '=' of the same length.
        assert set(lines[1]) == {"="} and len(lines[1]) == len(lines[0]), script
        assert "# %%" in text, script
