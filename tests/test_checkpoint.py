"""Checkpoints: a fit killed at any moment resumes to the uninterrupted result."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import knn_pygsp
from pyunlocbox_gae import GraphAutoEncoder, store
from pyunlocbox_gae.model import checkpoint

ROOT = Path(__file__).resolve().parents[1]
PARAMS = dict(
    n_atoms=8, ld=10.0, ls=1.0, le=1.0, rtol_outer=0.0, max_inner=30, random_state=0
)


def data(rng, N=400, n=12):
    centers = rng.standard_normal((5, n)) * 2
    X = centers[rng.integers(0, 5, N)] + 0.5 * rng.standard_normal((N, n))
    return X.astype(np.float32)


def same_fit(a, b):
    """Equal to the last bit: codes, atoms, encoder and objective history."""
    assert np.array_equal(a.components_, b.components_)
    assert np.array_equal(a.encoder_, b.encoder_)
    ha = [h["objective"] for h in a.history_]
    hb = [h["objective"] for h in b.history_]
    assert ha == hb
    assert a.history_[-1]["objective"] == pytest.approx(
        b.history_[-1]["objective"], rel=1e-6
    )


class Interrupt(Exception):
    pass


def test_resume_after_an_interruption_equals_the_uninterrupted_fit(
    rng, tmp_path, monkeypatch
):
    X = data(rng)
    G = knn_pygsp(X, k=5)
    params = dict(PARAMS, lg=2.0, graph=G, max_outer=6)
    ref = GraphAutoEncoder(**params)
    Z_ref = ref.fit_transform(X)
    path = tmp_path / "fit.h5"
    original = checkpoint.Checkpointer.write

    def crash_after_third(self, history):
        original(self, history)
        if len(history) == 3:
            raise Interrupt  # as if the process died right after the write

    monkeypatch.setattr(checkpoint.Checkpointer, "write", crash_after_third)
    with pytest.raises(Interrupt):
        GraphAutoEncoder(**params, checkpoint=path).fit(X)
    monkeypatch.undo()
    with store.open_h5(path, "checkpoint") as f:
        assert f.attrs["outer"] == 3
    resumed = GraphAutoEncoder(**params, checkpoint=path)
    Z = resumed.fit_transform(X)
    same_fit(resumed, ref)
    assert np.array_equal(Z, Z_ref)
    assert len(resumed.history_) == 6


def test_a_finished_fit_is_extended_by_raising_max_outer(rng, tmp_path):
    X = data(rng)
    path = tmp_path / "fit.h5"
    GraphAutoEncoder(**PARAMS, max_outer=2, checkpoint=path).fit(X)
    longer = GraphAutoEncoder(**PARAMS, max_outer=5, checkpoint=path).fit(X)
    same_fit(longer, GraphAutoEncoder(**PARAMS, max_outer=5).fit(X))
    # Fitting again with the finished checkpoint only redoes the final codes.
    again = GraphAutoEncoder(**PARAMS, max_outer=5, checkpoint=path).fit(X)
    same_fit(again, longer)


def test_checkpoints_are_written_every_k_iterations_or_t_seconds(
    rng, tmp_path, monkeypatch
):
    X = data(rng, N=100)
    written = []
    original = checkpoint.Checkpointer.write

    def spy(self, history):
        written.append(len(history))
        original(self, history)

    monkeypatch.setattr(checkpoint.Checkpointer, "write", spy)
    GraphAutoEncoder(
        **PARAMS, max_outer=7, checkpoint=tmp_path / "a.h5", checkpoint_every=3
    ).fit(X)
    assert written == [3, 6, 7]  # and always after the last one
    written.clear()
    GraphAutoEncoder(
        **PARAMS,
        max_outer=4,
        checkpoint=tmp_path / "b.h5",
        checkpoint_every=None,
        checkpoint_seconds=1e-9,
    ).fit(X)
    assert written == [1, 2, 3, 4]
    written.clear()
    GraphAutoEncoder(
        **PARAMS,
        max_outer=4,
        checkpoint=tmp_path / "c.h5",
        checkpoint_every=None,
        checkpoint_seconds=3600,
    ).fit(X)
    assert written == [4]


@pytest.mark.parametrize(
    "change, match",
    [
        ("data", "written for other data X"),
        ("graph", "written for another graph"),
        ("params", r"other parameters: ls=1\.0 there, 0\.5 here"),
        ("n_atoms", r"n_atoms=8 there, 6 here"),
    ],
)
def test_a_checkpoint_of_another_fit_is_refused(rng, tmp_path, change, match):
    X = data(rng, N=150)
    params = dict(PARAMS, lg=1.0, graph=knn_pygsp(X, k=5), max_outer=2)
    path = tmp_path / "fit.h5"
    GraphAutoEncoder(**params, checkpoint=path).fit(X)
    before = path.read_bytes()
    if change == "data":
        X = X.copy()
        X[0, 0] += 1
    elif change == "graph":
        params["graph"] = knn_pygsp(X, k=7)
    elif change == "params":
        params["ls"] = 0.5
    else:
        params["n_atoms"] = 6
    with pytest.raises(ValueError, match=match) as err:
        GraphAutoEncoder(**params, checkpoint=path).fit(X)
    assert "Delete the file to start afresh, or pass another checkpoint" in str(
        err.value
    )
    assert path.read_bytes() == before  # the refused file is left as it was


def test_a_file_that_is_not_a_checkpoint_is_refused(rng, tmp_path):
    X = data(rng, N=100)
    model = tmp_path / "model.h5"
    GraphAutoEncoder(**PARAMS, max_outer=1).fit(X).save(model)
    with pytest.raises(ValueError, match="holds 'pyunlocbox_gae/model'"):
        GraphAutoEncoder(**PARAMS, checkpoint=model).fit(X)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["Z"] = np.zeros((100, 8), np.float32)
    with pytest.raises(ValueError, match="not written by pyunlocbox_gae"):
        GraphAutoEncoder(**PARAMS, checkpoint=foreign).fit(X)
    with pytest.raises(FileNotFoundError, match="folder .*nope does not exist"):
        GraphAutoEncoder(**PARAMS, checkpoint=tmp_path / "nope" / "c.h5").fit(X)


# ---------------------------------------------------------------------------
# Real kills: a child process fits with checkpoints and is SIGKILLed.

CHILD = """
import sys, time
import numpy as np
from pyunlocbox_gae import GraphAutoEncoder, store

X = np.load(sys.argv[1], allow_pickle=False)
slow_write = float(sys.argv[3])
if slow_write:  # widen the window in which a checkpoint is half-written
    original = store.write_h5

    def slow(*args, **kwargs):
        with original(*args, **kwargs) as f:
            yield f
            f.flush()
            time.sleep(slow_write)

    import contextlib
    store.write_h5 = contextlib.contextmanager(slow)
params = {params}
GraphAutoEncoder(**params, checkpoint=sys.argv[2]).fit(X)
"""


def start_child(tmp_path, X, params, slow_write=0.0):
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(params=repr(params))))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(tmp_path / "X.npy"),
            str(tmp_path / "fit.h5"),
            str(slow_write),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(condition, child, timeout=60):
    t = time.monotonic()
    while not condition():
        if child.poll() is not None:
            raise AssertionError(
                f"the child ended before it could be killed: {child.stderr.read()}"
            )
        assert time.monotonic() - t < timeout, "timed out waiting for the child"
        time.sleep(0.002)


def kill(child):
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def test_a_fit_killed_at_a_random_moment_resumes_to_the_same_result(rng, tmp_path):
    X = data(rng, N=2000, n=16)
    params = dict(PARAMS, n_atoms=12, max_outer=40)
    path = tmp_path / "fit.h5"
    # A random moment after the first checkpoint: after a random number of
    # outer iterations (whatever the machine's speed), plus up to 10 ms.
    target = int(rng.integers(1, 21))

    def reached():
        try:
            with h5py.File(path, "r") as f:
                return int(f.attrs["outer"]) >= target
        except (OSError, KeyError):  # not written yet
            return False

    child = start_child(tmp_path, X, params)
    wait_for(reached, child)
    time.sleep(rng.uniform(0, 0.01))
    kill(child)
    with store.open_h5(path, "checkpoint") as f:
        done = int(f.attrs["outer"])
    assert target <= done < 40  # killed in the middle of the fit
    resumed = GraphAutoEncoder(**params, checkpoint=path)
    Z = resumed.fit_transform(X)
    ref = GraphAutoEncoder(**params)
    assert np.array_equal(Z, ref.fit_transform(X))
    same_fit(resumed, ref)


def test_a_kill_during_a_write_leaves_the_previous_checkpoint(rng, tmp_path):
    X = data(rng, N=300)
    params = dict(PARAMS, max_outer=40)
    path = tmp_path / "fit.h5"
    child = start_child(tmp_path, X, params, slow_write=0.2)
    tmp = path.with_name(f".{path.name}.tmp{child.pid}")
    # The second write is under way: a complete file and a partial one.
    wait_for(lambda: path.exists() and tmp.exists(), child)
    time.sleep(rng.uniform(0, 0.1))
    kill(child)
    assert tmp.exists()  # killed mid-write ...
    with store.open_h5(path, "checkpoint") as f:  # ... the previous file is whole
        done = int(f.attrs["outer"])
        assert f["Z"].shape == (300, 8) and np.isfinite(f["Z"][...]).all()
    assert done >= 1
    resumed = GraphAutoEncoder(**params, checkpoint=path).fit(X)
    assert not tmp.exists()  # the dead writer's temporary file is cleaned up
    same_fit(resumed, GraphAutoEncoder(**params).fit(X))


# ---------------------------------------------------------------------------
# The chain's codes fit: resumes after a crash, replaces a stale checkpoint.


def test_the_codes_fit_of_the_chain_resumes_and_cleans_up(rng, tmp_path, monkeypatch):
    from pyunlocbox_gae.experiments import stages

    X = data(rng, N=120)

    def model():
        return GraphAutoEncoder(
            6, lg=0.0, max_outer=5, rtol_outer=0.0, max_inner=30, random_state=1
        )

    out, saved = tmp_path / "codes.h5", tmp_path / "codes.h5.checkpoint"
    monkeypatch.setattr(stages, "CHECKPOINT_SECONDS", 1e-9)  # every iteration
    original = checkpoint.Checkpointer.write

    def crash_after_second(self, history):
        original(self, history)
        if len(history) == 2:
            raise Interrupt

    monkeypatch.setattr(checkpoint.Checkpointer, "write", crash_after_second)
    with pytest.raises(Interrupt):
        stages.fit_codes(model(), X, out)
    assert saved.exists()
    monkeypatch.setattr(checkpoint.Checkpointer, "write", original)
    resumed = model()
    Z = stages.fit_codes(resumed, X, out)
    assert not saved.exists() and len(resumed.history_) == 5
    ref = model().fit_transform(X)
    np.testing.assert_array_equal(Z, ref)
    # A checkpoint left by other settings is discarded: the fit starts afresh.
    GraphAutoEncoder(6, ls=0.5, max_outer=1, checkpoint=saved).fit(X)
    Z = stages.fit_codes(model(), X, out)
    np.testing.assert_array_equal(Z, ref)
    assert not saved.exists()


def test_a_checkpoint_with_a_damaged_history_is_one_clear_error(tmp_path):
    from pyunlocbox_gae.errors import FileFormatError

    X = np.random.default_rng(0).random((30, 4))
    path = tmp_path / "fit.h5"
    GraphAutoEncoder(3, max_outer=2, random_state=0, checkpoint=path).fit(X)
    with h5py.File(path, "r+") as f:
        f.attrs["history"] = '[{"outer": 1, "objective": 2.0}]'  # keys lost
    # A finished fit resumes straight into its last codes step, which reads
    # the last entry's step halvings: a traceback before the history was checked.
    with pytest.raises(FileFormatError, match="history is not a list of outer"):
        GraphAutoEncoder(3, max_outer=1, random_state=0, checkpoint=path).fit(X)
