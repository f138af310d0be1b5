import h5py
import numpy as np
import pytest

from pyunlocbox_gae import store


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with store.write_h5(path, "graph") as f:
            f.create_dataset("x", data=np.ones(3))
            raise RuntimeError("crash mid-way")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_previous_file_on_failure(tmp_path):
    path = tmp_path / "out.h5"
    with store.write_h5(path, "graph", version="old"):
        pass
    with pytest.raises(RuntimeError):
        with store.write_h5(path, "graph", version="new"):
            raise RuntimeError
    with store.open_h5(path, "graph") as f:
        assert f.attrs["version"] == "old"


def test_open_refuses_foreign_and_truncated_files(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=np.ones(3))
    with pytest.raises(ValueError, match="not written by pyunlocbox_gae"):
        store.open_h5(foreign, "graph")
    other = tmp_path / "other.h5"
    with store.write_h5(other, "features"):
        pass
    with pytest.raises(ValueError, match="holds 'pyunlocbox_gae/features'"):
        store.open_h5(other, "graph")
    good = tmp_path / "good.h5"
    with store.write_h5(good, "graph") as f:
        f.create_dataset("x", data=np.ones(1000))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated or not HDF5"):
        store.open_h5(truncated, "graph")
    with pytest.raises(FileNotFoundError):
        store.open_h5(tmp_path / "missing.h5", "graph")


def test_unwritable_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with store.write_h5(tmp_path / "nope" / "x.h5", "graph"):
            pass


def test_fingerprint_sees_every_value_and_no_copy_of_views(rng):
    X = rng.standard_normal((1000, 8)).astype(np.float32)
    base = store.fingerprint(X)
    Y = X.copy()
    Y[999, 7] += 1e-3
    assert store.fingerprint(Y) != base
    assert store.fingerprint(X.reshape(8, 1000)) != base
    # A transposed (non-contiguous) view hashes like its contiguous copy.
    assert store.fingerprint(X.T) == store.fingerprint(np.ascontiguousarray(X.T))
