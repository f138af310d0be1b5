"""Hostile files: forged sparse indices, links to other files, memory bombs,
a pickle that edits SciPy, untrusted graph bounds. Each is refused with one
clear error before anything is allocated or indexed."""

import pickle

import h5py
import numpy as np
import pytest
import scipy.sparse as sp

from pyunlocbox_gae import GraphAutoEncoder, graphs, safeio
from pyunlocbox_gae.cli.embed import read_graph
from pyunlocbox_gae.embeddings.planetoid import (
    load_planetoid,
    make_sbm_dataset,
    write_planetoid,
)
from pyunlocbox_gae.errors import FileFormatError, GAEError, UnsafeFileError


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((40, 3)).astype(np.float32)


@pytest.fixture
def graph_file(tmp_path, X):
    path = tmp_path / "g.h5"
    graphs.save_graph(path, graphs.knn_graph(X, k=4), X=X)
    return path


@pytest.fixture
def model_file(tmp_path, X):
    path = tmp_path / "model.h5"
    GraphAutoEncoder(n_atoms=3, max_outer=2, random_state=0).fit(X).save(path)
    return path


@pytest.fixture
def planetoid(tmp_path):
    write_planetoid(tmp_path, "toy", make_sbm_dataset(random_state=0))
    return tmp_path


def _rewrite(path, name, **kwargs):
    """Replace dataset `name` of an HDF5 file by one made with `kwargs`."""
    with h5py.File(path, "r+") as f:
        del f[name]
        f.create_dataset(name, **kwargs)


# ------------------------------------------------ 1: out-of-bounds indices


def test_npz_graph_with_indices_beyond_its_shape_is_refused(tmp_path):
    path = tmp_path / "g.npz"
    bad = sp.csr_matrix((np.ones(2), np.array([1, 10**6]), np.array([0, 1, 2])), (2, 2))
    sp.save_npz(path, bad, compressed=False)
    with pytest.raises(FileFormatError, match="column index exceeds|indices"):
        read_graph(path)


def test_npz_graph_with_decreasing_indptr_is_refused(tmp_path):
    path = tmp_path / "g.npz"
    np.savez(
        path,
        format=np.array(b"csr"),
        shape=np.array([2, 2]),
        data=np.ones(2),
        indices=np.array([0, 1], dtype=np.int32),
        indptr=np.array([0, 2, 1], dtype=np.int32),
    )
    with pytest.raises(FileFormatError, match="g.npz"):
        read_graph(path)


def test_hdf5_graph_with_indices_beyond_its_shape_is_refused(graph_file):
    with h5py.File(graph_file, "r+") as f:
        f["W/indices"][0] = 10**8
    with pytest.raises(FileFormatError, match="/W"):
        graphs.load_graph(graph_file)


def test_hdf5_graph_with_indptr_past_the_data_is_refused(graph_file):
    with h5py.File(graph_file, "r+") as f:
        f["L/indptr"][-1] = 10**6
    with pytest.raises(FileFormatError, match="/L"):
        graphs.load_graph(graph_file)


def test_planetoid_features_with_indices_beyond_their_shape_are_refused(planetoid):
    path = planetoid / "ind.toy.allx"
    allx = pickle.loads(path.read_bytes())
    allx.indices[0] += 10**8
    path.write_bytes(pickle.dumps(allx, protocol=2))
    with pytest.raises(FileFormatError, match="ind.toy.allx"):
        load_planetoid(planetoid, "toy", n_val=100)


# ------------------------------------------------ 3: HDF5 reaching other files


def test_model_whose_components_are_stored_in_another_file_is_refused(
    model_file, tmp_path
):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"password" * 100)
    _rewrite(
        model_file,
        "components",
        shape=(3, 3),
        dtype="f8",
        external=[(str(secret), 0, 72)],
    )
    with pytest.raises(UnsafeFileError, match="/components keeps its data in other"):
        GraphAutoEncoder.load(model_file)


def test_external_link_in_a_model_file_is_refused(model_file, tmp_path, X):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.ones((3, 3))
    with h5py.File(model_file, "r+") as f:
        del f["components"]
        f["components"] = h5py.ExternalLink(str(other), "/data")
    with pytest.raises(UnsafeFileError, match="/components is a link to /data"):
        GraphAutoEncoder.load(model_file)


def test_virtual_dataset_in_a_graph_file_is_refused(graph_file, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.arange(10)
    layout = h5py.VirtualLayout(shape=(10,), dtype="i8")
    layout[:] = h5py.VirtualSource(str(other), "data", shape=(10,))
    with h5py.File(graph_file, "r+") as f:
        del f["W/indices"]
        f["W"].create_virtual_dataset("indices", layout)
    with pytest.raises(UnsafeFileError, match="/W/indices is a virtual dataset"):
        graphs.load_graph(graph_file)


def test_soft_link_inside_the_file_is_read(model_file):
    with h5py.File(model_file, "r+") as f:
        f["alias"] = h5py.SoftLink("/components")
    assert GraphAutoEncoder.load(model_file).components_.shape == (3, 3)


# ------------------------------------------------ 4: memory bombs


def test_small_file_declaring_terabytes_is_refused_before_allocating(model_file):
    _rewrite(model_file, "components", shape=(2**20, 2**20), dtype="f8", chunks=True)
    assert model_file.stat().st_size < 100_000
    with pytest.raises(FileFormatError, match="/components declares shape"):
        GraphAutoEncoder.load(model_file)


def test_dataset_larger_than_the_file_holds_is_refused(model_file, monkeypatch):
    _rewrite(model_file, "components", shape=(3, 3), dtype="f8", chunks=(1, 3))
    with pytest.raises(FileFormatError, match="but the file holds 0 bytes"):
        GraphAutoEncoder.load(model_file)


def test_memory_limit_can_be_set(model_file, monkeypatch):
    monkeypatch.setenv(safeio.ENV_LIMIT, "16")
    with pytest.raises(FileFormatError, match="limit of this machine's memory"):
        GraphAutoEncoder.load(model_file)


@pytest.mark.parametrize("where", ["graph key", "neighbour", "test index"])
def test_planetoid_node_id_of_2_to_the_33_is_refused(planetoid, where):
    if where == "test index":
        path = planetoid / "ind.toy.test.index"
        ids = path.read_text().split()
        path.write_text("\n".join([*ids[:-1], str(2**33)]) + "\n")
    else:
        path = planetoid / "ind.toy.graph"
        graph = pickle.loads(path.read_bytes())
        if where == "graph key":
            graph[2**33] = [0]
        else:
            graph[0].append(2**33)
        path.write_bytes(pickle.dumps(graph, protocol=2))
    with pytest.raises(GAEError, match="ind.toy"):
        load_planetoid(planetoid, "toy", n_val=100)


def test_pickled_array_declaring_a_huge_shape_is_refused(tmp_path):
    from pyunlocbox_gae.embeddings.planetoid.io import safe_load_pickle

    reconstruct = np.zeros(1).__reduce__()[0]

    class Bomb:
        def __reduce__(self):
            return reconstruct, (np.ndarray, (2**45,), b"b")

    path = tmp_path / "bomb"
    path.write_bytes(pickle.dumps(Bomb(), protocol=2))
    with pytest.raises(FileFormatError, match="GiB"):
        safe_load_pickle(path)


# ------------------------------------------------ 5: the unpickler and SciPy


def _class_editing_pickle():
    # GLOBAL scipy.sparse._csr csr_matrix, then BUILD with the state
    # (None, {"__mul__": None, ...}): pickle sets such a slot state by setattr.
    body = pickle.dumps((None, {"__rmul__": None, "__mul__": None}), protocol=2)
    return (
        b"\x80\x02cscipy.sparse._csr\ncsr_matrix\n"
        + body[2:-1]  # the state tuple, without PROTO and STOP
        + b"b."
    )


def test_pickle_editing_a_scipy_class_is_refused_and_scipy_unchanged(planetoid):
    from pyunlocbox_gae.embeddings.planetoid.io import (
        UnsafePickleError,
        safe_load_pickle,
    )

    path = planetoid / "ind.toy.x"
    path.write_bytes(_class_editing_pickle())
    with pytest.raises(UnsafePickleError, match="csr_matrix"):
        safe_load_pickle(path)
    with pytest.raises(UnsafePickleError):
        load_planetoid(planetoid, "toy", n_val=100)
    product = np.array([1.0, 2.0]) * sp.csr_matrix(np.eye(2) * 3)  # a matrix product
    assert product.dtype == np.float64
    np.testing.assert_array_equal(product, [3.0, 6.0])


def test_pickle_setting_state_on_an_unknown_object_is_refused(tmp_path):
    from pyunlocbox_gae.embeddings.planetoid.io import (
        UnsafePickleError,
        safe_load_pickle,
    )

    path = tmp_path / "p"
    # object() then BUILD: Planetoid files never set state on plain objects.
    path.write_bytes(b"\x80\x02c__builtin__\nobject\n)R}U\x01aK\x01sb.")
    with pytest.raises(UnsafePickleError, match="object"):
        safe_load_pickle(path)


# ------------------------------------------------ 13: stored W, L and lmax


def test_graph_file_with_too_small_lmax_is_refused(graph_file):
    with h5py.File(graph_file, "r+") as f:
        f.attrs["lmax_exact"] = 0.1
    with pytest.raises(FileFormatError, match="lmax_exact = 0.1 is not a bound"):
        graphs.load_graph(graph_file)


def test_graph_file_whose_l_is_not_the_laplacian_of_w_is_refused(graph_file):
    with h5py.File(graph_file, "r+") as f:
        f["W/data"][0] *= 3
    with pytest.raises(FileFormatError, match="directed|not the normalized"):
        graphs.load_graph(graph_file)


def test_graph_file_with_negative_weights_is_refused(graph_file):
    with h5py.File(graph_file, "r+") as f:
        f["W/data"][...] = -f["W/data"][...]
    with pytest.raises(FileFormatError, match="negative weights"):
        graphs.load_graph(graph_file)


@pytest.mark.parametrize("item, value", [("indices", 10**6), ("distances", np.nan)])
def test_neighbour_lists_out_of_range_are_refused(graph_file, item, value):
    with h5py.File(graph_file, "r+") as f:
        f[f"neighbors/{item}"][0, 0] = value
    with pytest.raises(FileFormatError, match="neighbour lists"):
        graphs.load_neighbors(graph_file)


def test_untouched_files_still_load(graph_file, model_file, planetoid, X):
    assert graphs.load_graph(graph_file, X=X).N == 40
    assert GraphAutoEncoder.load(model_file).n_atoms == 3
    assert load_planetoid(planetoid, "toy", n_val=100).n_nodes == 600


def test_bytes_appended_to_a_file_of_ours_are_refused_before_hdf5_reads_it(
    model_file,
):
    # Inserted bytes shift every address after them; some such files made
    # libhdf5 loop for ever on the first attribute read.
    with open(model_file, "ab") as f:
        f.write(b"\0" * 15)
    with pytest.raises(FileFormatError, match="bytes but its HDF5 superblock"):
        GraphAutoEncoder.load(model_file)


def test_files_of_ours_carry_checksummed_metadata(model_file):
    with open(model_file, "rb") as f:
        assert f.read(9)[8] >= 2  # superblock version 2 or later


def test_indptr_ending_in_minus_one_is_refused(planetoid, tmp_path):
    # SciPy's full check skips its index checks when nnz = indptr[-1] <= 0;
    # this Planetoid file crashed the process (heap corruption) on load.
    path = planetoid / "ind.toy.allx"
    allx = pickle.loads(path.read_bytes())
    allx.indptr[-1] = -1
    path.write_bytes(pickle.dumps(allx, protocol=2))
    with pytest.raises(FileFormatError, match="indptr must run from 0"):
        load_planetoid(planetoid, "toy", n_val=100)
    npz = tmp_path / "g.npz"
    sp.save_npz(npz, sp.csr_matrix(np.eye(3)), compressed=False)
    with np.load(npz) as z:
        arrays = dict(z)
    arrays["indptr"][-1] = -1
    np.savez(npz, **arrays)
    with pytest.raises(FileFormatError, match="indptr must run from 0"):
        read_graph(npz)
