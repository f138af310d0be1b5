"""Sphinx configuration of the pyunlocbox_gae documentation.

Build (warnings are errors; no network needed)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going docs docs/_build/html

``GAE_DOCS_SIZE`` (default 0.3) is the fraction of the tutorials' full size
at which the gallery runs them; ``GAE_DOCS_SIZE=0.1`` builds faster.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout, before any installed copy
sys.path.insert(0, str(HERE))

import _api_check  # noqa: E402

import pyunlocbox_gae  # noqa: E402

project = "pyunlocbox_gae"
author = "The pyunlocbox_gae contributors"
copyright = f"2026, {author}"
version = release = pyunlocbox_gae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "_api_check",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_intersphinx", "_templates", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
root_doc = "index"
default_role = "py:obj"
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_theme_options = {"description": "Structured (graph) auto-encoders"}
html_static_path = []

# API reference: one page per module, built from the docstrings.
autosummary_generate = True
autosummary_imported_members = False
# Each object is documented once, in the module that defines it (a package's
# __all__ re-exports are links to there); docstrings are not inherited from
# scikit-learn, whose cross-references only resolve in its own site.
autodoc_default_options = {"member-order": "bysource", "ignore-module-all": True}
autodoc_inherit_docstrings = False
# A package that re-exports a function under its submodule's name
# (``experiments.demo``) still gets the submodule's page.
autosummary_context = {"shadowed_modules": _api_check.shadowed_modules()}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Types in "Parameters" and "Returns" link to their documentation.
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "array": "numpy.ndarray",
    "dtype": "numpy.dtype",
    "Generator": "numpy.random.Generator",
    "RandomState": "numpy.random.RandomState",
    "sparse matrix": "scipy.sparse.csr_matrix",
    "csr_matrix": "scipy.sparse.csr_matrix",
    "Graph": "pygsp.graphs.Graph",
    "func": "pyunlocbox.functions.func",
}
numpydoc_xref_ignore = {"of", "or", "shape", "optional", "default", "and", "to"}

# Offline inventories (docs/_intersphinx/*.inv, made by
# docs/_intersphinx/make_inventories.py from the objects these pages name):
# the links go to each project's real documentation, and nothing is
# downloaded at build time.
_INV = HERE / "_intersphinx"
intersphinx_mapping = {
    name: (url, str(_INV / f"{name}.inv"))
    for name, url in {
        "python": "https://docs.python.org/3/",
        "numpy": "https://numpy.org/doc/stable/",
        "scipy": "https://docs.scipy.org/doc/scipy/",
        "sklearn": "https://scikit-learn.org/stable/",
        "pygsp": "https://pygsp.readthedocs.io/en/stable/",
        "pyunlocbox": "https://pyunlocbox.readthedocs.io/en/stable/",
        "librosa": "https://librosa.org/doc/latest/",
    }.items()
}
intersphinx_disabled_reftypes = ["std:doc"]

# The tutorials as a gallery, executed at a reduced size.
os.environ.setdefault("GAE_TUTORIALS_SIZE", os.environ.get("GAE_DOCS_SIZE", "0.3"))
# The files the tutorials write (figures, caches) go under docs/_build.
os.environ.setdefault("GAE_TUTORIALS_OUTPUT", str(HERE / "_build" / "tutorial-output"))
os.environ.pop("GAE_GTZAN", None)
sphinx_gallery_conf = {
    "examples_dirs": "../tutorials",
    "gallery_dirs": "tutorials",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
}
