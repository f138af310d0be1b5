r"""Checkpoints of the alternating minimisation: resume a fit after a crash.

A :class:`Checkpointer` writes the state of a fit at an outer-iteration
boundary (the dictionary D, the encoder E, the codes Z, the history, the
outer iteration, the random state) to one HDF5 file, atomically through
:func:`pyunlocbox_gae.store.write_h5`: the file under the final name is
always a complete checkpoint, the previous one until the new one is whole.

That state is complete: each sub-problem builds a fresh solver (FISTA
momentum, primal-dual variables) and recomputes its step from D and the
weights, so a fit resumed from it runs exactly as one never interrupted.

The file also records fingerprints of the data X, of the graph's Laplacian
and of the parameters that shape the trajectory (:data:`TRAJECTORY_PARAMS`).
A checkpoint that does not match the fit that finds it is refused with a
message that says which of the three differs. ``max_outer`` and
``rtol_outer`` are not among them: a finished fit can be extended by raising
``max_outer``.

.. autosummary::
    Checkpointer
    CheckpointMismatch
    trajectory_params
    graph_fingerprint
"""

import json
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae import store
from pyunlocbox_gae.errors import (
    AccessError,
    CheckpointMismatch,
    FileFormatError,
    MissingFileError,
)
from pyunlocbox_gae.model import objective

KIND = "checkpoint"


#: Parameters of :class:`~pyunlocbox_gae.GraphAutoEncoder` that change the
#: iterates; a checkpoint is resumed only by a fit with the same values. The
#: terms' parameters come from :data:`pyunlocbox_gae.model.objective.TERMS`.
TRAJECTORY_PARAMS = (
    "n_atoms",
    *objective.PARAMETERS,
    "lap_type",
    "graph_params",
    "dict_init",
    "project_encoder",
    "solver",
    "rtol",
    "max_inner",
    "eval_every",
    "batch_size",
    "random_state",
)


def trajectory_params(params):
    """The parameters that matter for resuming, as JSON-able values.

    Weights are floats (None and 0 alike mean "off"); an array ``dict_init``
    and a ``RandomState`` instance are summarised (fingerprint, class name).

    Examples
    --------
    >>> trajectory_params(dict(n_atoms=4, ld=10, ls=None, random_state=0))
    {'ld': 10.0, 'ls': 0.0, 'n_atoms': 4, 'random_state': 0}
    >>> trajectory_params(dict(lg="auto"))
    {'lg': 'auto'}
    """
    out = {}
    for key in TRAJECTORY_PARAMS:
        if key not in params:
            continue
        value = params[key]
        if key in objective.PARAMETERS and not isinstance(value, str):
            value = objective.PARAMETERS[key].weight(value)  # 'auto' stays
        elif key == "dict_init" and not isinstance(value, str):
            value = "array " + store.fingerprint(np.asarray(value))
        elif key == "random_state" and not (
            value is None or isinstance(value, (int, np.integer))
        ):
            value = type(value).__name__
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return json.loads(json.dumps(out, sort_keys=True, default=str))


def graph_fingerprint(graph):
    """Fingerprint of a graph's Laplacian (``"none"`` without a graph).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> a = sp.csr_matrix(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    >>> graph_fingerprint(a) == graph_fingerprint(a.copy())
    True
    >>> graph_fingerprint(a) == graph_fingerprint(2 * a)
    False
    """
    if graph is None:
        return "none"
    L = sp.csr_matrix(getattr(graph, "L", graph))
    parts = [store.fingerprint(a) for a in (L.indptr, L.indices, L.data)]
    return store.fingerprint(np.frombuffer(" ".join(parts).encode(), np.uint8))


def _remove_stale_temporaries(path):
    """Delete temporary files of processes that were killed while writing.

    :func:`store.atomic_path` names them ``.<name>.tmp<pid>``; a SIGKILL
    leaves one behind (the final name is untouched). Files of live processes
    are kept.
    """
    for tmp in path.parent.glob(f".{path.name}.tmp*"):
        pid = tmp.name.rsplit(".tmp", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:  # a live process of another user
            continue


class Checkpointer:
    """Save and restore the state of one fit.

    Parameters
    ----------
    path : str or Path
        The checkpoint file. Its folder must exist and be writable.
    every : int or None
        Write after every `every` outer iterations.
    seconds : float or None
        Write when at least `seconds` have passed since the last write.
        Whatever `every` and `seconds`, the state after the last outer
        iteration is always written.
    x_print, graph_print : str
        Fingerprints of the data and of the graph of this fit.
    params : dict
        :func:`trajectory_params` of this fit.
    arrays : dict
        ``D``, ``Z`` (sample-major codes) and ``E`` (or None): the arrays the
        fit updates in place, restored in place by :meth:`resume`.
    rng : numpy.random.RandomState
        The fit's random state, saved and restored.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "fit.h5"
    >>> D, Z = np.ones((3, 2)), np.zeros((5, 2))
    >>> rng = np.random.RandomState(0)
    >>> c = Checkpointer(path, 1, None, "x", "none", {}, dict(D=D, Z=Z, E=None), rng)
    >>> c.resume() is None  # no file yet: start afresh
    True
    >>> c.update([{"outer": 1, "objective": 2.5, "halvings": 0}], finished=True)
    True
    >>> D[...] = 0
    >>> c.resume(), D[0]
    ([{'outer': 1, 'objective': 2.5, 'halvings': 0}], array([1., 1.]))
    """

    def __init__(self, path, every, seconds, x_print, graph_print, params, arrays, rng):
        self.path = Path(path)
        self.every, self.seconds = every, seconds
        self.fingerprints = dict(x=x_print, graph=graph_print)
        self.params = params
        self.arrays = arrays
        self.rng = rng
        self.last_write = time.monotonic()
        self.writes, self.write_time = 0, 0.0
        # Called before each write, to bring arrays up to date (the codes of
        # a fit on Dask workers are gathered then).
        self.before_write = None
        parent = self.path.parent
        if not parent.is_dir():
            raise MissingFileError(
                f"cannot write checkpoint {self.path}: folder {parent} does not "
                "exist; create it first"
            )
        if not os.access(parent, os.W_OK):
            raise AccessError(
                f"cannot write checkpoint {self.path}: folder {parent} is not "
                "writable; pass checkpoint= a path in a writable folder"
            )

    # ------------------------------------------------------------------
    def resume(self):
        """Restore the state from the file; return its history, or None.

        Raises
        ------
        ValueError
            If the file is not a checkpoint, or was written for other data,
            another graph or other parameters (the message says which).
        """
        _remove_stale_temporaries(self.path)
        if not self.path.exists():
            return None
        with store.open_h5(self.path, KIND) as f:
            self._check(f)
            for name, array in self.arrays.items():
                if array is None:
                    continue
                stored = f[name]
                if stored.shape != array.shape or stored.dtype != array.dtype:
                    raise self._refuse(
                        f"its {name} has shape {stored.shape} and dtype "
                        f"{stored.dtype}, this fit needs {array.shape} {array.dtype}"
                    )
                if array.flags.c_contiguous:  # the codes: no temporary copy
                    stored.read_direct(array)
                else:
                    array[...] = stored[...]
            state = json.loads(f.attrs["rng_state"])
            self.rng.set_state(
                (state[0], f["rng_keys"][...], state[1], state[2], state[3])
            )
            history = _checked_history(json.loads(f.attrs["history"]), self.path)
        return history

    def _check(self, f):
        for what, label in (("x", "other data X"), ("graph", "another graph")):
            found = f.attrs.get(f"{what}_fingerprint")
            if found != self.fingerprints[what]:
                raise self._refuse(
                    f"it was written for {label} (fingerprint {found}, this "
                    f"fit's is {self.fingerprints[what]})"
                )
        stored = json.loads(f.attrs["params"])
        differ = [
            f"{key}={stored.get(key)!r} there, {self.params.get(key)!r} here"
            for key in sorted(set(stored) | set(self.params))
            if stored.get(key) != self.params.get(key)
        ]
        if differ:
            raise self._refuse(
                "it was written with other parameters: " + "; ".join(differ)
            )

    def _refuse(self, why):
        return CheckpointMismatch(
            f"checkpoint {self.path} does not match this fit: {why}. Delete the "
            "file to start afresh, or pass another checkpoint path"
        )

    # ------------------------------------------------------------------
    def update(self, history, finished=False):
        """Write the state if it is due; return whether it was written."""
        outer = len(history)
        due = (
            finished
            or (self.every is not None and outer % self.every == 0)
            or (
                self.seconds is not None
                and time.monotonic() - self.last_write >= self.seconds
            )
        )
        if due:
            self.write(history)
        return due

    def write(self, history):
        """Write the state now (atomically: write then rename)."""
        t = time.perf_counter()
        if self.before_write is not None:
            self.before_write()
        algorithm, keys, pos, has_gauss, cached = self.rng.get_state()
        with store.write_h5(
            self.path,
            KIND,
            x_fingerprint=self.fingerprints["x"],
            graph_fingerprint=self.fingerprints["graph"],
            params=json.dumps(self.params, sort_keys=True),
            history=json.dumps(history, default=float),
            outer=len(history),
            rng_state=json.dumps([algorithm, int(pos), int(has_gauss), cached]),
        ) as f:
            for name, array in self.arrays.items():
                if array is not None:
                    f.create_dataset(name, data=array)
            f.create_dataset("rng_keys", data=keys)
        self.last_write = time.monotonic()
        self.writes += 1
        self.write_time += time.perf_counter() - t


# Keys every history entry of a checkpoint has, with numbers: the loop reads
# them when it resumes (its stopping rule, the last entry's step halvings).
_HISTORY_KEYS = ("objective", "halvings")


def _checked_history(history, path):
    """The history of a checkpoint, refused with one clear error if damaged."""
    ok = isinstance(history, list) and all(
        isinstance(entry, dict)
        and all(
            isinstance(entry.get(key), (int, float))
            and not isinstance(entry.get(key), bool)
            for key in _HISTORY_KEYS
        )
        for entry in history
    )
    if not ok or not history:
        raise FileFormatError(
            f"{path} is damaged: its history is not a list of outer iterations "
            f"with {', '.join(_HISTORY_KEYS)}; delete it to start the fit afresh"
        )
    return history
