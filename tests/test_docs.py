"""The documentation's offline link inventories are complete and up to date."""

import importlib.util
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "docs" / "_intersphinx"


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_inventories", FOLDER / "make_inventories.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(path):
    """(name, domain:role, uri) of each entry of an objects.inv file."""
    data = path.read_bytes()
    header, _, body = data.partition(b"compressed using zlib.\n")
    assert header.startswith(b"# Sphinx inventory version 2"), path
    entries = set()
    for line in zlib.decompress(body).decode("utf-8").splitlines():
        name, role, _priority, uri, _display = line.split(" ", 4)
        entries.add((name, role, uri))
    return entries


@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.mark.parametrize(
    "key", ["python", "numpy", "scipy", "sklearn", "pygsp", "pyunlocbox", "librosa"]
)
def test_inventory_holds_every_object_the_docs_name(script, key):
    expected = {(n, r, u) for n, r, u, _ in script.FIXED.get(key, [])}
    for name in script.referenced_names():
        if name.split(".")[0] != key or any(p.startswith("_") for p in name.split(".")):
            continue
        role = script.resolve(name)
        if role is not None:
            expected.add((name, f"py:{role}", script.address(key, name, role)))
    assert _read(FOLDER / f"{key}.inv") == expected, (
        f"docs/_intersphinx/{key}.inv is out of date: "
        "run python docs/_intersphinx/make_inventories.py"
    )


def test_addresses_follow_each_projects_layout(script):
    assert script.address("sklearn", "sklearn.svm.LinearSVC", "class") == (
        "modules/generated/sklearn.svm.LinearSVC.html#sklearn.svm.LinearSVC"
    )
    assert script.address("pygsp", "pygsp.graphs.Graph", "class") == (
        "reference/graphs.html#pygsp.graphs.Graph"
    )
    assert script.resolve("numpy.no_such_function") is None
