"""k-NN graphs: search against brute force, weights, Laplacians, lmax, files, errors."""

import numpy as np
import pygsp
import pytest
import scipy.sparse as sp

from pyunlocbox_gae import graphs
from pyunlocbox_gae.graphs import search as search_mod
from pyunlocbox_gae.graphs.search import Neighbors


def clustered(rng, N=600, d=12, n_clusters=6, rank=3, dtype=np.float32):
    """A mixture of low-rank Gaussian clusters (not uniform noise)."""
    centres = rng.random((n_clusters, d)) * 3
    loadings = rng.standard_normal((n_clusters, rank, d)) * 0.3
    labels = rng.integers(0, n_clusters, N)
    Z = rng.standard_normal((N, rank))
    X = centres[labels] + np.einsum("nr,nrd->nd", Z, loadings[labels])
    X += 0.02 * rng.standard_normal((N, d))
    return X.astype(dtype)


def brute_force(X, k, metric="euclidean"):
    """Distances to every other sample with plain numpy, in float64."""
    X = np.asarray(X, np.float64)
    if metric == "cosine":
        X = X - X.mean(axis=0)
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        D = 1 - X @ X.T
    else:
        D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_exact_search_equals_numpy_brute_force(rng, metric):
    X = clustered(rng, N=300)
    nb = graphs.search_neighbors(X, k=7, metric=metric, backend="exact")
    idx, dist = brute_force(X, 7, metric)
    assert nb.indices.shape == (300, 7) and nb.distances.dtype == np.float32
    np.testing.assert_array_equal(np.sort(nb.indices, 1), np.sort(idx, 1))
    np.testing.assert_allclose(nb.distances, dist, rtol=1e-4, atol=1e-5)
    assert (np.diff(nb.distances, axis=1) >= 0).all()


def test_approximate_recall_and_determinism(rng):
    X = clustered(rng, N=4000, d=24, n_clusters=20)
    nb = graphs.search_neighbors(X, k=10, backend="approximate", random_state=3)
    assert nb.backend == "approximate" and nb.params["nprobe"] < nb.params["nlist"]
    assert graphs.recall_at_k(nb, X, n_queries=400) >= 0.9
    again = graphs.search_neighbors(X, k=10, backend="approximate", random_state=3)
    np.testing.assert_array_equal(nb.indices, again.indices)
    # The helper itself can fail: random lists have a recall near 0.
    fake = Neighbors(rng.integers(0, 4000, (4000, 10)), nb.distances + 10)
    assert graphs.recall_at_k(fake, X, n_queries=200) < 0.05


def test_auto_backend_picks_by_size(rng, monkeypatch):
    X = clustered(rng, N=200)
    assert graphs.search_neighbors(X, k=3).backend == "exact"
    monkeypatch.setattr(search_mod, "AUTO_EXACT_MAX", 100)
    assert graphs.search_neighbors(X, k=3).backend == "approximate"


def dense_weights(X, k, kernel, sigma, self_loops, symmetrize):
    idx, dist = brute_force(X, k)
    s = dist[:, -1].mean() if sigma is None else sigma
    w = np.exp(-dist / s) if kernel == "exp" else np.exp(-(dist**2) / s**2)
    A = np.zeros((len(X), len(X)))
    np.put_along_axis(A, idx, w, axis=1)
    A = np.maximum(A, A.T) if symmetrize == "max" else (A + A.T) / 2
    if self_loops:
        np.fill_diagonal(A, 1)
    return A


@pytest.mark.parametrize(
    "kernel, sigma, self_loops, symmetrize",
    [
        ("exp", None, True, "max"),
        ("gaussian", None, False, "mean"),
        ("exp", 0.7, False, "mean"),
        ("gaussian", 2.0, True, "max"),
    ],
)
def test_weights_follow_the_formula(rng, kernel, sigma, self_loops, symmetrize):
    X = clustered(rng, N=120)
    G = graphs.knn_graph(
        X,
        k=6,
        kernel=kernel,
        sigma=sigma,
        self_loops=self_loops,
        symmetrize=symmetrize,
    )
    W = G.W
    assert isinstance(W, sp.csr_matrix) and W.dtype == np.float32
    np.testing.assert_allclose(
        W.toarray(),
        dense_weights(X, 6, kernel, sigma, self_loops, symmetrize),
        rtol=2e-5,
        atol=1e-6,
    )
    assert abs(W - W.T).max() == 0
    assert W.data.min() > 0 and W.data.max() <= 1


@pytest.mark.parametrize("lap_type", ["normalized", "combinatorial"])
def test_laplacian_matches_pygsp_and_lmax_bounds_it(rng, lap_type):
    X = clustered(rng, N=250)
    G = graphs.knn_graph(X, k=8, lap_type=lap_type)
    assert G.L.dtype == np.float32 and G.lap_type == lap_type
    ref = pygsp.graphs.Graph(G.W.astype(np.float64), lap_type=lap_type).L
    np.testing.assert_allclose(G.L.toarray(), ref.toarray(), atol=1e-6)
    ev = np.linalg.eigvalsh(G.L.toarray().astype(np.float64))
    assert ev[0] > -1e-5
    if lap_type == "normalized":
        assert ev[-1] <= 2 + 1e-5
    assert ev[-1] <= G.lmax_exact <= ev[-1] + 1e-3
    assert G.lmax == G.lmax_exact  # PyGSP's cache returns the safe bound


def test_float64_requested_and_float32_data_not_copied_or_modified(rng):
    X = clustered(rng, N=150)
    before = X.copy()
    G = graphs.knn_graph(X, k=5, dtype=np.float64, metric="cosine")
    assert G.W.dtype == np.float64 and G.L.dtype == np.float64
    np.testing.assert_array_equal(X, before)
    graphs.knn_graph(X, k=5, backend="approximate", random_state=0)
    np.testing.assert_array_equal(X, before)


def test_search_reports_its_progress_block_by_block(rng, monkeypatch):
    X = rng.standard_normal((25, 4)).astype(np.float32)
    monkeypatch.setattr(search_mod, "QUERY_BLOCK", 10)
    calls = []
    G = graphs.knn_graph(
        X, k=3, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(10, 25), (20, 25), (25, 25)]
    reference = graphs.knn_graph(X, k=3)
    assert (G.W != reference.W).nnz == 0  # the blocks change nothing


def test_reweighting_stored_neighbours_does_not_search(rng, monkeypatch):
    X = clustered(rng, N=200)
    G = graphs.knn_graph(X, k=8)
    lists = G.neighbors.indices.copy(), G.neighbors.distances.copy()
    fresh = graphs.knn_graph(X, k=5, kernel="gaussian", symmetrize="mean")

    def no_search(*args, **kwargs):
        raise AssertionError("searched again")

    monkeypatch.setattr(search_mod, "_exact", no_search)
    monkeypatch.setattr(search_mod, "_approximate", no_search)
    again = graphs.knn_graph(
        X, k=5, kernel="gaussian", symmetrize="mean", neighbors=G.neighbors
    )
    assert (again.W != fresh.W).nnz == 0
    assert (again.L != fresh.L).nnz == 0
    assert graphs.knn_graph(None, k=8, neighbors=G.neighbors).W.nnz == G.W.nnz
    # Weighting never edits the stored lists (scipy sorts CSR parts in place).
    np.testing.assert_array_equal(G.neighbors.indices, lists[0])
    np.testing.assert_array_equal(G.neighbors.distances, lists[1])
    assert not np.shares_memory(G.W.indices, G.neighbors.indices)


def test_pygsp_does_not_print_its_self_loop_warning(rng, capfd):
    graphs.knn_graph(clustered(rng, N=50), k=3)
    assert "self-loops" not in capfd.readouterr().err


def test_reweighting_refuses_mismatched_neighbours(rng):
    X = clustered(rng, N=100)
    nb = graphs.search_neighbors(X, k=4)
    with pytest.raises(ValueError, match="for 100 samples but X has 99"):
        graphs.knn_graph(X[:99], k=4, neighbors=nb)
    with pytest.raises(ValueError, match="fingerprint mismatch"):
        graphs.knn_graph(X[:, :5], k=4, neighbors=nb)
    with pytest.raises(ValueError, match="k=6 neighbours asked but 4 are stored"):
        graphs.knn_graph(X, k=6, neighbors=nb)
    with pytest.raises(ValueError, match="metric='euclidean', not 'cosine'"):
        graphs.knn_graph(X, k=4, metric="cosine", neighbors=nb)


def test_duplicates_get_weight_one_and_all_duplicates_are_refused(rng):
    X = clustered(rng, N=60)
    X[1] = X[0]
    G = graphs.knn_graph(X, k=3)
    assert G.W[0, 1] == 1 and G.neighbors.distances[0, 0] == 0
    same = np.ones((10, 3), np.float32)
    with pytest.raises(ValueError, match="sigma = mean distance .* is 0"):
        graphs.knn_graph(same, k=2)
    assert graphs.knn_graph(same, k=2, sigma=1.0).W.data.min() == 1


def test_isolated_vertex_has_a_zero_laplacian_row():
    W = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], np.float32))
    for lap_type in ("normalized", "combinatorial"):
        L = graphs.as_graph(W, n_samples=3, lap_type=lap_type).L.toarray()
        assert not L[2].any() and not L[:, 2].any() and L[0, 0] > 0


def test_as_graph_checks_and_does_not_touch_the_callers_matrix():
    A = sp.csr_matrix(np.array([[0, 2.0], [2.0, 0]], np.float32))
    zeros = A.copy()
    zeros.data[:] = 0  # explicit zeros, which PyGSP would eliminate in place
    G = graphs.as_graph(zeros, n_samples=2)
    assert zeros.nnz == 2 and G.W.nnz == 0
    G = graphs.as_graph(A)
    assert graphs.as_graph(G) is G  # already ours: returned as is
    # A graph keeps its own Laplacian; lap_type is for adjacency matrices.
    assert graphs.as_graph(G, lap_type="combinatorial") is G
    assert graphs.as_graph(A, lap_type="combinatorial").L[0, 0] == 2
    with pytest.raises(ValueError, match="must be a square"):
        graphs.as_graph(sp.csr_matrix(np.ones((2, 3))))
    with pytest.raises(ValueError, match="directed: W is not symmetric"):
        graphs.as_graph(np.array([[0, 1.0], [0, 0]]))
    with pytest.raises(ValueError, match="negative weights"):
        graphs.as_graph(np.array([[0, -1.0], [-1.0, 0]]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        graphs.as_graph(np.array([[0, np.nan], [np.nan, 0]]))
    with pytest.raises(ValueError, match="lap_type must be one of"):
        graphs.as_graph(A, lap_type="random-walk")


@pytest.mark.parametrize(
    "X, params, match",
    [
        (np.ones((5, 2)), dict(k=5), r"k=5 neighbours need 1 <= k < n_samples = 5"),
        (np.ones((5, 2)), dict(k=0), r"1 <= k"),
        (np.ones((5, 2)), dict(k=2.5), "k must be an integer"),
        (np.array([[0.0, np.inf], [1, 2], [3, 4]]), dict(k=1), "NaN or infinite"),
        (np.ones(5), dict(k=1), "must be 2-D"),
        (np.ones((0, 3)), dict(k=1), "is empty"),
        (np.eye(4), dict(k=1, metric="l1"), "metric must be one of"),
        (np.eye(4), dict(k=1, kernel="cauchy"), "kernel must be one of"),
        (np.eye(4), dict(k=1, backend="flann"), "backend must be one of"),
        (np.eye(4), dict(k=1, symmetrize="min"), "symmetrize must be one of"),
        (np.eye(4), dict(k=1, sigma=-1), "sigma must be a positive finite"),
        (np.ones((4, 2)), dict(k=1, metric="cosine"), "undefined for 4 sample"),
    ],
)
def test_bad_input_is_a_clear_value_error(X, params, match):
    with pytest.raises(ValueError, match=match):
        graphs.knn_graph(X, **params)


def test_save_load_round_trip_and_mismatch_errors(rng, tmp_path):
    X = clustered(rng, N=120)
    G = graphs.knn_graph(X, k=5, kernel="gaussian", lap_type="combinatorial")
    path = tmp_path / "g.h5"
    graphs.save_graph(path, G)
    back = graphs.load_graph(path, X=X)
    for a, b in ((back.W, G.W), (back.L, G.L)):
        assert a.dtype == b.dtype and (a != b).nnz == 0
    np.testing.assert_array_equal(back.neighbors.indices, G.neighbors.indices)
    np.testing.assert_array_equal(back.neighbors.distances, G.neighbors.distances)
    assert back.lmax_exact == G.lmax_exact and back.lap_type == "combinatorial"
    assert back.graph_params["kernel"] == "gaussian"
    assert back.graph_params["sigma"] is None
    assert back.graph_params["sigma_used"] == G.graph_params["sigma_used"]
    with pytest.raises(ValueError, match="over 120 samples but the data has 119"):
        graphs.load_graph(path, X=X[:119])
    other = X.copy()
    other[0, 0] += 1
    with pytest.raises(ValueError, match="fingerprint mismatch"):
        graphs.load_graph(path, X=other)
    with pytest.raises(ValueError, match="fingerprint mismatch"):
        graphs.load_neighbors(path, X=other)
    # Re-weighting from the file, as `gae graph reweight` does.
    nb = graphs.load_neighbors(path, X=X)
    assert (
        graphs.knn_graph(X, k=5, neighbors=nb).W != graphs.knn_graph(X, k=5).W
    ).nnz == 0
    nb_path = tmp_path / "nb.h5"
    graphs.save_neighbors(nb_path, nb)
    with pytest.raises(ValueError, match="holds only neighbour lists"):
        graphs.load_graph(nb_path)
    with pytest.raises(FileNotFoundError):
        graphs.load_graph(tmp_path / "missing.h5")


def test_estimator_builds_its_graph_when_none_is_given(rng):
    from pyunlocbox_gae import GraphAutoEncoder

    X = clustered(rng, N=80, d=6)
    gae = GraphAutoEncoder(
        4,
        lg=1,
        graph_params=dict(k=5, kernel="gaussian"),
        max_outer=2,
        random_state=0,
    )
    Z = gae.fit_transform(X)
    assert Z.dtype == np.float32 and gae.history_[-1]["graph"] > 0


def test_cli_build_and_reweight(rng, tmp_path, capsys):
    import h5py

    from pyunlocbox_gae.cli import main

    X = clustered(rng, N=90)
    np.save(tmp_path / "X.npy", X)
    with h5py.File(tmp_path / "feat.h5", "w") as f:
        f["frames/X"] = X
    out = tmp_path / "g.h5"
    assert main(["graph", "build", str(tmp_path / "X.npy"), str(out), "--k", "6"]) == 0
    G = graphs.load_graph(out, X=X)
    assert (G.W != graphs.knn_graph(X, k=6).W).nnz == 0
    spec = f"{tmp_path / 'feat.h5'}:frames/X"
    assert main(["graph", "build", spec, str(out), "--k", "6"]) == 0
    out2 = tmp_path / "g2.h5"
    args = ["graph", "reweight", str(out), str(out2), "--k", "4", "--kernel"]
    assert main([*args, "gaussian", "--features", str(tmp_path / "X.npy")]) == 0
    fresh = graphs.knn_graph(X, k=4, kernel="gaussian")
    assert (graphs.load_graph(out2, X=X).W != fresh.W).nnz == 0
    capsys.readouterr()
    assert main(["graph", "build", str(tmp_path / "feat.h5"), str(out)]) == 2
    assert "no dataset 'X'" in capsys.readouterr().err
    assert main(["graph", "build", str(tmp_path / "no.npy"), str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["graph", "reweight", str(out2), str(out), "--k", "9"]) == 2
    assert "k=9 neighbours asked but 4 are stored" in capsys.readouterr().err
