r"""The public Planetoid data format: a safe loader, its standard split, a writer.

.. autosummary::
    load_planetoid
    write_planetoid
    safe_load_pickle
    UnsafePickleError

The **inductive** files of a data set ``<name>`` are eight files in one
folder (Yang, Cohen and Salakhutdinov 2016, as distributed with Kipf and
Welling's GCN code):
``ind.<name>.x`` / ``.y`` (features and one-hot labels of the labelled
training nodes), ``.allx`` / ``.ally`` (every node that is not a test node,
the training nodes first), ``.tx`` / ``.ty`` (the test nodes, in the order of
``.test.index``), ``.graph`` (a dict of adjacency lists) and ``.test.index``
(the node index of every test node, one a line).

The **transductive** files ``trans.<name>.x`` / ``.y`` / ``.tx`` / ``.ty`` /
``.graph`` hold the features and labels of the labelled and test nodes
only; their graph numbers the labelled nodes first, then the test nodes in
the order of ``.tx``, then the other nodes. Public copies of Pubmed lack
``ind.pubmed.allx`` but have every transductive file.

All but the index are Python pickles, and unpickling runs code: a pickle can
name any importable callable (``os.system``) and have it called. The loader
therefore admits only the classes the format uses (NumPy arrays and dtypes,
SciPy sparse matrices, dict, list, defaultdict) and refuses anything else
before it is imported.
"""

import collections
import copyreg
import io
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae import store
from pyunlocbox_gae.embeddings.planetoid.data import PlanetoidData
from pyunlocbox_gae.errors import (
    GAEError,
    InputError,
    MissingFileError,
    UnsafeFileError,
)

PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph")
#: The transductive files: no features of the nodes that are neither
#: labelled nor test nodes (what the authors' Planetoid-T reads).
TRANS_PARTS = ("x", "y", "tx", "ty", "graph")


class UnsafePickleError(UnsafeFileError, pickle.UnpicklingError):
    """A pickle names a class or function outside the Planetoid format."""


def _latin1_encode(text, encoding="utf-8"):
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(
            f"refusing _codecs.encode with encoding {encoding!r} in a pickle"
        )
    return text.encode("latin1")


def _allowed_globals():
    reconstruct = _reconstruct  # NumPy's array rebuilder, size-checked
    scalar = np.float64(0).__reduce__()[0]  # NumPy's scalar rebuilder
    allowed = {}
    # NumPy 1 pickles name numpy.core, NumPy 2 numpy._core: admit both.
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[module, "_reconstruct"] = reconstruct
        allowed[module, "scalar"] = scalar
    allowed["numpy", "ndarray"] = np.ndarray
    allowed["numpy", "dtype"] = np.dtype
    # Old SciPy pickles name the public modules, new ones the private ones.
    for kind in ("csr", "csc", "coo", "lil"):
        cls = getattr(sp, f"{kind}_matrix")
        for module in (f"scipy.sparse.{kind}", f"scipy.sparse._{kind}"):
            allowed[module, f"{kind}_matrix"] = cls
    # Python 2 pickles name copy_reg and __builtin__.
    for module in ("copy_reg", "copyreg"):
        allowed[module, "_reconstructor"] = copyreg._reconstructor
    for module in ("__builtin__", "builtins"):
        for cls in (object, list, dict, set, tuple, int, float):
            allowed[module, cls.__name__] = cls
    # Python 3 writes bytes at protocol 2 as _codecs.encode(text, "latin1").
    allowed["_codecs", "encode"] = _latin1_encode
    allowed["collections", "defaultdict"] = collections.defaultdict
    allowed["collections", "OrderedDict"] = collections.OrderedDict
    return allowed


def _reconstruct(subtype, shape, dtype):
    """NumPy's array rebuilder, for plain arrays of a size the limit allows."""
    if subtype is not np.ndarray:
        raise UnsafePickleError(f"refusing to rebuild an array of type {subtype!r}")
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    store.check_alloc(
        int(np.prod(shape, dtype=object)) * dtype.itemsize, "an array", "a pickle"
    )
    return _NUMPY_RECONSTRUCT(subtype, shape, dtype)


_NUMPY_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_SPARSE = tuple(getattr(sp, f"{kind}_matrix") for kind in ("csr", "csc", "coo", "lil"))


class _RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that resolves only the globals of the Planetoid format.

    The pure-Python unpickler, so that BUILD (which sets an object's state)
    can be restricted: it may fill the instance dict of a sparse matrix or
    set the state of an array, never set an attribute on a class (which
    would change that class for the whole process).
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")  # NumPy arrays from Python 2
        self.source = source

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, (np.ndarray, np.dtype)):
            inst.__setstate__(state)
            return
        if isinstance(inst, type):
            raise UnsafePickleError(
                f"{self.source}: refusing to set attributes on the class "
                f"{inst.__module__}.{inst.__name__} from a pickle (that would "
                "change it for the whole program); this file was tampered with"
            )
        keys = state.keys() if isinstance(state, dict) else None
        if (
            not isinstance(inst, _SPARSE)
            or keys is None
            or not all(isinstance(k, str) and not k.startswith("__") for k in keys)
        ):
            raise UnsafePickleError(
                f"{self.source}: refusing to set the state of a "
                f"{type(inst).__name__} from a pickle: Planetoid files only set "
                "the arrays of sparse matrices; this file was tampered with"
            )
        inst.__dict__.update(state)

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module, name):
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refusing to load '{module}.{name}' from a pickle: "
                "Planetoid files hold only NumPy arrays, SciPy sparse matrices, "
                "dicts and lists, so this file is not a Planetoid file or was "
                "tampered with; do not use it"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(
            f"{self.source}: refusing a pickle with persistent ids (not a "
            "Planetoid file)"
        )


_ALLOWED = _allowed_globals()


def safe_load_pickle(path):
    """Unpickle a file admitting only the types of the Planetoid format.

    Raises
    ------
    UnsafePickleError (a ValueError)
        If the pickle names any other class or function; nothing it names
        is imported or called.
    ValueError
        If the file is not a readable pickle.

    Examples
    --------
    >>> import os, pickle, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "evil")
    >>> with open(path, "wb") as f:
    ...     pickle.dump(os.system, f)
    >>> safe_load_pickle(path)
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.embeddings.planetoid.io.UnsafePickleError: ...refusing to load...
    """
    path = Path(path)
    store.check_alloc(path.stat().st_size, "its content", path)
    # From memory: a length field in the pickle then cannot make a read
    # allocate more than the file holds.
    data = io.BytesIO(path.read_bytes())
    try:
        return _RestrictedUnpickler(data, path).load()
    except GAEError as err:  # refused: name the file when the message does not
        if str(path) not in str(err):
            raise type(err)(f"{path}: {err}") from None
        raise
    except Exception as err:  # any failure of the unpickler on this content
        raise InputError(
            f"{path} is not a readable Planetoid pickle ({type(err).__name__}: "
            f"{err}); download the file again"
        ) from None


def _paths(folder, name, files="ind"):
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"{folder} is not a folder of Planetoid files")
    parts = PARTS if files == "ind" else TRANS_PARTS
    paths = {part: folder / f"{files}.{name}.{part}" for part in parts}
    if files == "ind":
        paths["test.index"] = folder / f"ind.{name}.test.index"
    missing = [p.name for p in paths.values() if not p.exists()]
    if missing:
        raise MissingFileError(
            f"{folder} lacks the Planetoid file(s) {', '.join(missing)} of data set "
            f"{name!r} (is --name right?)"
            + (
                f"; without them, files='trans' reads trans.{name}.* (the "
                "transductive files) for the methods that need no features of "
                "unlabelled nodes"
                if files == "ind"
                else ""
            )
        )
    return paths


def _choose_files(folder, name):
    """'ind' when every inductive file is there, else 'trans' when those are.

    An empty file counts as missing: public copies of Pubmed carry an empty
    ``ind.pubmed.allx``.
    """
    folder = Path(folder)

    def there(path):
        return path.exists() and path.stat().st_size > 0

    has = [
        all(there(folder / f"ind.{name}.{p}") for p in (*PARTS, "test.index")),
        all(there(folder / f"trans.{name}.{p}") for p in TRANS_PARTS),
    ]
    return "trans" if not has[0] and has[1] else "ind"


def _matrix(value, path, ndim_name):
    if sp.issparse(value):
        # Checked (indices within the shape), then rebuilt from its arrays:
        # old pickles carry attributes that newer SciPy versions lack.
        return store.check_sparse(value, path)
    if isinstance(value, np.ndarray) and value.ndim == 2:
        if value.dtype.kind not in "biuf":
            raise InputError(f"{path} holds a {value.dtype} matrix, not numbers")
        return value
    raise InputError(
        f"{path} should hold a 2-D {ndim_name} matrix, got {type(value).__name__}"
    )


def _labels(onehot, path):
    if sp.issparse(onehot):
        store.check_alloc(8 * onehot.shape[0] * onehot.shape[1], "a label matrix", path)
        onehot = onehot.toarray()
    labels = onehot.argmax(axis=1).astype(np.int64)
    labels[onehot.sum(axis=1) == 0] = -1  # unlabelled rows (Citeseer has some)
    return labels


def _n_nodes(n_allx, test_index, path):
    """The number of nodes: allx, then the test nodes and the gaps among them.

    Nodes in no file (Citeseer has 15 among 3,327) may not outnumber the
    nodes that have features: a larger index is a damaged or forged file,
    which would otherwise make the loader allocate for every node up to it.
    """
    n_known = n_allx + len(test_index)
    n = max(n_allx, int(test_index.max()) + 1 if len(test_index) else 0)
    if n - n_known > n_known:
        raise InputError(
            f"{path}: test node index {int(test_index.max())} is far beyond the "
            f"{n_known} nodes with features; the file is damaged or forged"
        )
    return n


def _adjacency_lists(graph, n, path):
    """Keys and neighbour arrays of the .graph dict, every id in [0, n)."""
    try:
        keys = np.fromiter(graph.keys(), dtype=np.int64, count=len(graph))
        neighbours = [np.asarray(list(v), dtype=np.int64) for v in graph.values()]
    except (TypeError, ValueError, OverflowError) as err:
        raise InputError(
            f"{path} should map node ids to lists of node ids ({err})"
        ) from None
    for ids in (keys, *neighbours):
        if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= n)):
            raise InputError(
                f"{path} names node ids outside the {n} nodes of the data set "
                "(or not a flat list); the file is damaged or forged"
            )
    return keys, neighbours


def load_planetoid(folder, name, n_val=500, files="auto"):
    """Load a Planetoid data set and its standard split.

    Parameters
    ----------
    folder : str or Path
        Folder holding the ``ind.<name>.*`` (or ``trans.<name>.*``) files.
    name : str
        ``cora``, ``citeseer``, ``pubmed`` or any other name in the format.
    n_val : int, default=500
        Validation nodes: those right after the training nodes (inductive
        files only).
    files : {'auto', 'ind', 'trans'}, default='auto'
        ``'ind'``: the eight ``ind.<name>.*`` files, features of every node;
        every method runs. ``'trans'``: the five ``trans.<name>.*`` files,
        features of the labelled and test nodes only and no validation
        nodes: only ``features_lr`` and ``planetoid_t`` run, without
        validation (``PlanetoidData.featured`` lists the nodes with
        features). ``'auto'``: ``'ind'`` when all its files are there, else
        ``'trans'`` when those are (public Pubmed copies lack
        ``ind.pubmed.allx``).

    Returns
    -------
    PlanetoidData
        Nodes ordered as in the graph; ``train`` is the labelled nodes of
        ``.y`` (20 per class in the public splits), ``val`` the next `n_val`
        nodes, ``test`` the nodes of ``.test.index`` (1,000).

    Notes
    -----
    Citeseer lists test nodes whose index range has gaps: some nodes of the
    graph are in no file. As in Kipf and Welling's loader they get zero
    features and no label (-1 here) and are in no part of the split.

    Examples
    --------
    >>> import tempfile
    >>> from pyunlocbox_gae.embeddings.planetoid import make_sbm_dataset
    >>> data = make_sbm_dataset(random_state=0)
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_planetoid(folder, "toy", data, trans=True)
    >>> back = load_planetoid(folder, "toy", n_val=100)
    >>> len(back.train), len(back.val), len(back.test), back.n_nodes
    (60, 100, 200, 600)
    >>> trans = load_planetoid(folder, "toy", files="trans")
    >>> len(trans.train), len(trans.val), len(trans.test), len(trans.featured)
    (60, 0, 200, 260)
    """
    if files not in ("auto", "ind", "trans"):
        raise InputError(f"files must be 'auto', 'ind' or 'trans', got {files!r}")
    if files == "auto":
        files = _choose_files(folder, name)
    if files == "trans":
        return _load_trans(folder, name)
    paths = _paths(folder, name)
    parts = {part: safe_load_pickle(paths[part]) for part in PARTS}
    try:
        test_index = np.loadtxt(paths["test.index"], dtype=np.int64, ndmin=1)
    except ValueError as err:
        raise InputError(
            f"{paths['test.index']}: not a list of integers ({err})"
        ) from None
    x, allx, tx = (_matrix(parts[p], paths[p], "feature") for p in ("x", "allx", "tx"))
    y, ally, ty = (_matrix(parts[p], paths[p], "label") for p in ("y", "ally", "ty"))
    graph = parts["graph"]
    if not isinstance(graph, dict):
        raise InputError(f"{paths['graph']} should hold a dict of adjacency lists")
    n_allx, n_train = allx.shape[0], y.shape[0]
    checks = [
        (x.shape[0] == n_train, "x and y have different numbers of rows"),
        (tx.shape[0] == ty.shape[0] == len(test_index), "tx, ty, test.index differ"),
        (ally.shape[0] == n_allx, "allx and ally have different numbers of rows"),
        (len(test_index) == 0 or test_index.min() >= n_allx, "test nodes overlap allx"),
        (n_train + n_val <= n_allx, f"fewer than {n_train} + {n_val} non-test nodes"),
        (len(np.unique(test_index)) == len(test_index), "repeated test indices"),
        (x.shape[1] == allx.shape[1] == tx.shape[1], "feature widths differ"),
        (y.shape[1] == ally.shape[1] == ty.shape[1], "label widths differ"),
    ]
    for ok, what in checks:
        if not ok:
            raise InputError(f"{folder}: inconsistent Planetoid files ({what})")
    n = _n_nodes(n_allx, test_index, paths["test.index"])
    keys, neighbours = _adjacency_lists(graph, n, paths["graph"])

    # Row of every node in [allx; tx; a zero row]; the nodes in no file (the
    # Citeseer gaps) point at the zero row.
    row = np.full(n, n_allx + len(test_index), dtype=np.int64)
    row[:n_allx] = np.arange(n_allx)
    row[test_index] = n_allx + np.arange(len(test_index))
    feats = sp.vstack([allx, tx, sp.csr_matrix((1, allx.shape[1]))], format="csr")
    features = feats[row].astype(np.float32)
    labels = np.r_[_labels(ally, paths["ally"]), _labels(ty, paths["ty"]), -1][row]

    return PlanetoidData(
        name=name,
        features=features,
        labels=labels,
        adjacency=_symmetric_adjacency(keys, neighbours, n),
        train=np.arange(n_train),
        val=np.arange(n_train, n_train + n_val),
        test=np.sort(test_index),
    )


def _load_trans(folder, name):
    """The transductive files: labelled nodes, then test nodes, then the rest."""
    paths = _paths(folder, name, "trans")
    parts = {part: safe_load_pickle(paths[part]) for part in TRANS_PARTS}
    x, tx = (_matrix(parts[p], paths[p], "feature") for p in ("x", "tx"))
    y, ty = (_matrix(parts[p], paths[p], "label") for p in ("y", "ty"))
    graph = parts["graph"]
    if not isinstance(graph, dict):
        raise InputError(f"{paths['graph']} should hold a dict of adjacency lists")
    n_train, n_test = x.shape[0], tx.shape[0]
    n_known = n_train + n_test
    n = len(graph)
    checks = [
        (y.shape[0] == n_train, "x and y have different numbers of rows"),
        (ty.shape[0] == n_test, "tx and ty have different numbers of rows"),
        (x.shape[1] == tx.shape[1], "feature widths differ"),
        (y.shape[1] == ty.shape[1], "label widths differ"),
        (n >= n_known, f"the graph has {n} nodes, fewer than {n_known} in x and tx"),
    ]
    for ok, what in checks:
        if not ok:
            raise InputError(f"{folder}: inconsistent Planetoid files ({what})")
    keys, neighbours = _adjacency_lists(graph, n, paths["graph"])
    store.check_alloc(8 * (n + x.shape[1]), "the features", paths["graph"])
    features = sp.vstack(
        [x, tx, sp.csr_matrix((n - n_known, x.shape[1]))], format="csr"
    ).astype(np.float32)
    labels = np.r_[_labels(y, paths["y"]), _labels(ty, paths["ty"])]
    labels = np.r_[labels, np.full(n - n_known, -1)].astype(np.int64)
    return PlanetoidData(
        name=name,
        features=features,
        labels=labels,
        adjacency=_symmetric_adjacency(keys, neighbours, n),
        train=np.arange(n_train),
        val=np.arange(0),
        test=np.arange(n_train, n_known),
        featured=np.arange(n_known),
    )


def _symmetric_adjacency(keys, neighbours, n):
    counts = np.array([len(v) for v in neighbours], dtype=np.int64)
    src, dst = np.repeat(keys, counts), np.concatenate(neighbours + [np.zeros(0, int)])
    A = sp.csr_matrix(
        (np.ones(2 * len(src), dtype=np.float32), (np.r_[src, dst], np.r_[dst, src])),
        shape=(n, n),
    )
    A.data[:] = 1  # undirected 0/1 graph (as networkx.from_dict_of_lists)
    return A


def write_planetoid(folder, name, data, drop=(), random_state=0, trans=False):
    """Write a data set in the Planetoid format (for tests and examples).

    Nodes are renumbered as the format wants them: training nodes first,
    then validation nodes, then the other non-test nodes, then the test
    nodes, listed in ``.test.index`` in a shuffled order.

    Parameters
    ----------
    folder : str or Path
        Existing folder.
    name : str
    data : PlanetoidData
    drop : sequence of int
        Test nodes (original indices) to leave out of every file except the
        graph, which reproduces the Citeseer gaps.
    random_state : int
        Seed of the test-index order.
    trans : bool, default=False
        Also write the transductive files ``trans.<name>.*``: labelled
        nodes, then the test nodes in the order of ``.tx``, then the others
        in a shuffled order (as the public files).

    Returns
    -------
    ndarray
        ``order``: node ``i`` of the files is node ``order[i]`` of `data`.
    """
    drop = np.asarray(drop, dtype=np.int64)
    if not np.isin(drop, data.test).all():
        raise InputError("drop must list test nodes only")
    rest = np.setdiff1d(np.arange(data.n_nodes), np.r_[data.train, data.val, data.test])
    order = np.r_[data.train, data.val, rest, data.test]
    new = np.empty_like(order)
    new[order] = np.arange(len(order))
    n_allx = len(order) - len(data.test)
    kept = np.setdiff1d(data.test, drop)
    test_new = np.random.default_rng(random_state).permutation(new[kept])
    X = sp.csr_matrix(data.features, dtype=np.float32)
    onehot = np.eye(data.n_classes, dtype=np.int64)[data.labels]
    A = sp.csr_matrix(data.adjacency)[order][:, order]
    graph = collections.defaultdict(list)
    for i in range(len(order)):
        graph[i] = A.indices[A.indptr[i] : A.indptr[i + 1]].tolist()
    parts = dict(
        x=X[data.train],
        y=onehot[data.train],
        allx=X[order[:n_allx]],
        ally=onehot[order[:n_allx]],
        tx=X[order[test_new]],
        ty=onehot[order[test_new]],
        graph=graph,
    )
    folder = Path(folder)
    for part, value in parts.items():
        with store.atomic_path(folder / f"ind.{name}.{part}") as tmp:
            with open(tmp, "wb") as f:
                pickle.dump(value, f, protocol=2)
    with store.atomic_path(folder / f"ind.{name}.test.index") as tmp:
        tmp.write_text("".join(f"{i}\n" for i in test_new))
    if trans:
        rng = np.random.default_rng(random_state)
        known = np.r_[np.arange(len(data.train)), test_new]
        others = rng.permutation(np.setdiff1d(np.arange(len(order)), known))
        t_order = order[np.r_[known, others]]  # trans node i is data node t_order[i]
        At = sp.csr_matrix(data.adjacency)[t_order][:, t_order]
        t_graph = collections.defaultdict(list)
        for i in range(len(t_order)):
            t_graph[i] = At.indices[At.indptr[i] : At.indptr[i + 1]].tolist()
        t_parts = dict(
            x=parts["x"], y=parts["y"], tx=parts["tx"], ty=parts["ty"], graph=t_graph
        )
        for part, value in t_parts.items():
            with store.atomic_path(folder / f"trans.{name}.{part}") as tmp:
                with open(tmp, "wb") as f:
                    pickle.dump(value, f, protocol=2)
    return order
