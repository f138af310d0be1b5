"""Checks and directives of this site.

``optional-toctree``: a toctree whose entries that have no page yet are
left out (pages that arrive later are listed once they exist).

Re-exported names: a reference to ``pyunlocbox_gae.GraphAutoEncoder`` or
``pyunlocbox_gae.graphs.knn_graph`` resolves to the entry of the module that
defines the object (each object is documented once, there).

The API check fails the build when a public name has no entry in the API
reference.

Every public module of the package (not the old names kept as aliases) is
walked; each public function, class and module must be documented under its
defining module's name. A missing one is a warning, so ``sphinx-build -W``
fails and names it.
"""

import importlib
import inspect
import pkgutil
from pathlib import Path

from sphinx.directives.other import TocTree
from sphinx.util import logging

import pyunlocbox_gae

logger = logging.getLogger(__name__)


def public_modules():
    """Names of the package's public modules, aliases of moved modules left out."""
    names = ["pyunlocbox_gae"]
    for info in pkgutil.walk_packages(pyunlocbox_gae.__path__, "pyunlocbox_gae."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts):
            continue
        module = importlib.import_module(info.name)
        if module.__name__ != info.name:  # an alias of a moved module
            continue
        names.append(info.name)
    return names


def shadowed_modules():
    """Public modules whose package has an attribute of the same name."""
    found = []
    for name in public_modules():
        parent, _, leaf = name.rpartition(".")
        value = getattr(importlib.import_module(parent), leaf, None) if parent else None
        if value is not None and not inspect.ismodule(value):
            found.append(name)
    return found


def public_names():
    """(qualified name, kind) of every public function and class and module."""
    found = set()
    for name in public_modules():
        found.add((name, "module"))
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("_"):
                continue
            if inspect.isclass(value) or inspect.isfunction(value):
                if getattr(value, "__module__", None) == name:
                    found.add((f"{name}.{value.__qualname__}", "object"))
    return sorted(found)


def check(app, env):
    documented = set(env.domains["py"].objects) | set(env.domains["py"].modules)
    missing = [name for name, _ in public_names() if name not in documented]
    for name in missing:
        logger.warning("public name missing from the API reference: %s", name)


def skip_generated(app, what, name, obj, skip, options):
    """Leave out the request methods that scikit-learn generates per class."""
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn."):
        return True
    return None


class OptionalTocTree(TocTree):
    """A toctree that lists only the entries whose page exists."""

    def run(self):
        folder = Path(self.env.srcdir)
        suffixes = self.config.source_suffix
        keep = [
            i
            for i, entry in enumerate(self.content)
            if any((folder / f"{entry.strip()}{s}").exists() for s in suffixes)
        ]
        self.content = type(self.content)(
            [self.content[i] for i in keep],
            items=[self.content.items[i] for i in keep],
        )
        return super().run()


def canonical_name(target):
    """``module.qualname`` of the object that `target` names, or None."""
    module_name, _, attr = target.rpartition(".")
    if not module_name.startswith("pyunlocbox_gae"):
        return None
    try:
        value = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return None
    if inspect.ismodule(value):
        return value.__name__
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if module is None or qualname is None:
        return None
    return f"{module}.{qualname}"


def resolve_reexport(app, env, node, contnode):
    """Resolve a reference to a re-exported name to its defining module."""
    if node.get("refdomain") != "py":
        return None
    target = canonical_name(node["reftarget"])
    if target is None or target == node["reftarget"]:
        return None
    domain = env.domains["py"]
    node = node.deepcopy()
    node["reftarget"] = target
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
    )


def setup(app):
    app.connect("missing-reference", resolve_reexport)
    app.add_directive("optional-toctree", OptionalTocTree)
    app.connect("env-updated", check)
    app.connect("autodoc-skip-member", skip_generated)
    return {"parallel_read_safe": True}
