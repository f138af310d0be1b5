"""What a user installs and runs first: the command is cheap, the package complete."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_python

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyunlocbox_gae"
HEAVY = ("h5py", "librosa", "matplotlib", "sklearn")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# Import name -> distribution name, where they differ.
DISTRIBUTION = {"sklearn": "scikit-learn", "faiss": "faiss-cpu", "yaml": "pyyaml"}


def test_command_parser_imports_nothing_heavy():
    out = run_python(
        "import sys\n"
        "from pyunlocbox_gae.cli import build_parser\n"
        "build_parser()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert out.strip() == "", f"building the gae parser imported {out.strip()}"


def test_version_is_printed_by_python_m():
    import pyunlocbox_gae

    done = subprocess.run(
        [sys.executable, "-m", "pyunlocbox_gae", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"gae {pyunlocbox_gae.__version__}"


def test_sub_command_help_still_lists_the_config_options(capsys):
    from pyunlocbox_gae.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["features", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "--n-atoms" in text and "--max-outer" in text


def _imported_top_level_names():
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def _declared():
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs.extend(extra)
    names = set()
    for spec in specs:
        name = spec.split(";")[0].split("[")[0]
        for sep in "<>=!~ ":
            name = name.split(sep)[0]
        names.add(name.lower())
    return names


def test_every_imported_distribution_is_declared():
    stdlib = set(sys.stdlib_module_names)
    third_party = {n for n in _imported_top_level_names() if n not in stdlib} - {
        "pyunlocbox_gae",
        "tomli",
    }
    declared = _declared()
    missing = sorted(
        n for n in third_party if DISTRIBUTION.get(n, n).lower() not in declared
    )
    assert missing == [], f"imported but not declared in pyproject.toml: {missing}"


def test_license_file_matches_the_declared_license():
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Redistribution and use in source and binary forms" in text
    assert "Neither the name of the copyright holder" in text  # clause 3


def test_test_tools_are_not_runtime_requirements():
    runtime = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    assert "pytest" not in runtime and "hypothesis" not in runtime
