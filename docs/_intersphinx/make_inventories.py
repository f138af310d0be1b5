"""Write the small intersphinx inventories that the documentation links with.

The documentation builds offline, so instead of downloading each project's
``objects.inv`` this script writes one per project, holding only the objects
that the documentation names (roles such as ``:func:`numpy.linalg.norm```,
single-backtick names and "See Also" entries in the docstrings, pages and
tutorials, and the type aliases of ``docs/conf.py``), plus the few
Python and NumPy entries that numpydoc links parameter types to. Each
object is imported to check that it exists and to know its kind, and its
address follows the layout of that project's documentation.
Run it after adding a reference to one of these projects::

    python docs/_intersphinx/make_inventories.py

and commit the ``*.inv`` files it writes next to itself.
"""

import importlib
import inspect
import re
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCES = [
    *sorted((ROOT / "pyunlocbox_gae").rglob("*.py")),
    *sorted((ROOT / "tutorials").glob("*.py")),
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "docs").glob("*.rst")),
    ROOT / "docs" / "conf.py",  # numpydoc's aliases of parameter types
]
PROJECTS = {
    "python": ("Python", "sys"),
    "numpy": ("NumPy", "numpy"),
    "scipy": ("SciPy", "scipy"),
    "sklearn": ("scikit-learn", "sklearn"),
    "pygsp": ("PyGSP", "pygsp"),
    "pyunlocbox": ("PyUNLocBoX", "pyunlocbox"),
    "librosa": ("librosa", "librosa"),
}
# Objects whose page does not follow the project's usual pattern.
SPECIAL = {
    "numpy.float32": "reference/arrays.scalars.html#numpy.float32",
    "numpy.float64": "reference/arrays.scalars.html#numpy.float64",
    "numpy.random.Generator": "reference/random/generator.html#numpy.random.Generator",
    "numpy.random.default_rng": "reference/random/generator.html"
    "#numpy.random.default_rng",
    "numpy.random.RandomState": "reference/random/legacy.html#numpy.random.RandomState",
    "numpy.memmap": "reference/generated/numpy.memmap.html#numpy.memmap",
}
# Always written: what numpydoc links parameter types to (``bool``, ``str``,
# ``array_like``...), as (name, domain:role, address, display name).
FIXED = {
    "python": [
        ("None", "py:data", "library/constants.html#None", "-"),
        ("True", "py:data", "library/constants.html#True", "-"),
        ("False", "py:data", "library/constants.html#False", "-"),
        ("list", "py:class", "library/stdtypes.html#list", "-"),
        ("tuple", "py:class", "library/stdtypes.html#tuple", "-"),
        ("str", "py:class", "library/stdtypes.html#str", "-"),
        ("dict", "py:class", "library/stdtypes.html#dict", "-"),
        ("float", "py:class", "library/functions.html#float", "-"),
        ("int", "py:class", "library/functions.html#int", "-"),
        ("callable", "py:function", "library/functions.html#callable", "-"),
        (
            "contextlib.contextmanager",
            "py:function",
            "library/contextlib.html#contextlib.contextmanager",
            "-",
        ),
        (
            "collections.namedtuple",
            "py:function",
            "library/collections.html#collections.namedtuple",
            "-",
        ),
        ("iterable", "std:term", "glossary.html#term-iterable", "iterable"),
        ("sequence", "std:term", "glossary.html#term-sequence", "sequence"),
        ("generator", "std:term", "glossary.html#term-generator", "generator"),
        (
            "bltin-boolean-values",
            "std:label",
            "library/stdtypes.html#boolean-type-bool",
            "Boolean Type",
        ),
    ],
    "numpy": [
        ("numpy", "py:module", "reference/index.html#module-numpy", "-"),
        ("numpy.inf", "py:data", "reference/constants.html#numpy.inf", "-"),
        ("numpy.nan", "py:data", "reference/constants.html#numpy.nan", "-"),
        ("array_like", "std:term", "glossary.html#term-array_like", "array_like"),
        (
            "arrays.scalars",
            "std:label",
            "reference/arrays.scalars.html#arrays-scalars",
            "Scalars",
        ),
    ],
}
NAME = r"((?:numpy|scipy|sklearn|pygsp|pyunlocbox|librosa)(?:\.\w+)+)"
PATTERNS = [
    re.compile(r":(?:py:)?\w+:`~?" + NAME + r"(?:\(\))?`"),  # :func:`x`
    re.compile(r"\{(?:py:)?\w+\}`~?" + NAME + r"`"),  # MyST {func}`x`
    re.compile(r"(?<![`\w])`~?" + NAME + r"(?:\(\))?`(?!`)"),  # `x`
    re.compile(r"^\s*" + NAME + r"\s*(?::|,|$)", re.M),  # See Also entries
    re.compile(r'"' + NAME + r'"'),  # a quoted name, as in conf.py's aliases
]


def referenced_names():
    """Names of the six projects' objects that the documentation refers to."""
    names = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            names.update(m.group(1) for m in pattern.finditer(text))
    return names


def resolve(name):
    """The object `name` and its Sphinx role, or None if it does not exist."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                parent, obj = obj, getattr(obj, attr)
        except AttributeError:
            return None
        if inspect.ismodule(obj):
            return "module"
        if inspect.isclass(obj):
            return "exception" if issubclass(obj, BaseException) else "class"
        if callable(obj):
            return (
                "method"
                if i < len(parts) - 1 and inspect.isclass(parent)
                else ("function")
            )
        return "data"
    return None


def address(project, name, role):
    """The page and anchor of `name` in `project`'s documentation."""
    if name in SPECIAL:
        return SPECIAL[name]
    parts = name.split(".")
    anchor = f"module-{name}" if role == "module" else name
    if role == "method":  # on the class's page
        page = ".".join(parts[:-1])
    else:
        page = name
    if project == "numpy":
        if role == "module":
            return f"reference/routines.{parts[1]}.html#{anchor}"
        return f"reference/generated/{page}.html#{anchor}"
    if project == "scipy":
        if role == "module":
            return f"reference/{'.'.join(parts[1:])}.html#{anchor}"
        return f"reference/generated/{page}.html#{anchor}"
    if project == "sklearn":
        if role == "module":
            return f"api/{name}.html#{anchor}"
        return f"modules/generated/{page}.html#{anchor}"
    if project == "librosa":
        if role == "module":
            return f"core.html#{anchor}"
        return f"generated/{page}.html#{anchor}"
    # PyGSP and PyUNLocBoX: one reference page per sub-package.
    return f"reference/{parts[1] if len(parts) > 1 else 'index'}.html#{anchor}"


def write_inventory(path, project, version, entries):
    """An ``objects.inv`` (version 2) holding `entries`.

    Each entry is (name, domain:role, uri, display name).
    """
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = "".join(
        f"{n} {r} {-1 if r.startswith('std:') else 1} {u} {d}\n"
        for n, r, u, d in sorted(set(entries))
    )
    path.write_bytes(header.encode() + zlib.compress(lines.encode("utf-8"), 9))


def main():
    found = {key: list(FIXED.get(key, [])) for key in PROJECTS}
    for name in sorted(referenced_names()):
        if any(part.startswith("_") for part in name.split(".")):
            continue  # private: not in that project's documentation
        role = resolve(name)
        key = name.split(".")[0]
        if role is None:
            print(f"skipped {name}: not found in the installed {key}")
            continue
        found[key].append((name, f"py:{role}", address(key, name, role), "-"))
    for key, (project, module) in PROJECTS.items():
        version = getattr(importlib.import_module(module), "__version__", "3")
        write_inventory(HERE / f"{key}.inv", project, version, found[key])
        print(f"{key}.inv: {len(found[key])} objects")


if __name__ == "__main__":
    main()
