"""Random walks, DeepWalk, embedding files and the multi-label protocols."""

import sys
import tracemalloc

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from pyunlocbox_gae.cli import main
from pyunlocbox_gae.embeddings import deepwalk as embedding
from pyunlocbox_gae.embeddings import walks
from pyunlocbox_gae.embeddings.deepwalk import (
    DeepWalk,
    load_embedding,
    multilabel_f1,
    save_embedding,
)
from pyunlocbox_gae.embeddings.planetoid import sbm_adjacency
from pyunlocbox_gae.embeddings.walks import (
    as_adjacency,
    iter_walks,
    random_walks,
    window_pairs,
)


@pytest.fixture
def weighted_digraph(rng):
    """A random weighted directed graph with two dead ends (rows 0 and 7)."""
    n = 30
    A = sp.random(n, n, density=0.2, random_state=1, format="csr", dtype=np.float64)
    A.data = rng.uniform(0.1, 5, A.nnz)
    A = A.tolil()
    A[0, :] = 0
    A[7, :] = 0
    A[3, 0] = 1.0  # a way into the dead end 0
    return A.tocsr()


@pytest.fixture(scope="module")
def sbm():
    labels = np.repeat(np.arange(3), 100)
    return sbm_adjacency(labels, 0.1, 0.005, random_state=0), labels


# -- as_adjacency -------------------------------------------------------------


def test_as_adjacency_no_copy_and_dtype():
    A = sp.csr_matrix(np.array([[0, 1], [2, 0]], dtype=np.float32))
    assert as_adjacency(A) is A
    B = as_adjacency(np.array([[0, 1], [1, 0]]))
    assert B.dtype == np.float64 and sp.issparse(B)


def test_as_adjacency_reads_pygsp_graph():
    import pygsp

    W = sp.csr_matrix(np.array([[0, 3.0], [3.0, 0]]))
    G = pygsp.graphs.Graph(W)
    assert (as_adjacency(G) != W).nnz == 0


@pytest.mark.parametrize(
    "W, message",
    [
        (np.ones((2, 3)), r"square \(n_nodes, n_nodes\) matrix, got shape \(2, 3\)"),
        (np.array([[0, np.nan], [1, 0]]), "weights contain 1 NaN or infinite value"),
        (np.array([[0, -2.0], [1, 0]]), r"1 negative weight\(s\) \(smallest -2.0\)"),
        ("graph", "must be a pygsp.graphs.Graph or an adjacency matrix"),
    ],
)
def test_as_adjacency_rejects(W, message):
    with pytest.raises(ValueError, match=message):
        as_adjacency(W)


# -- walks --------------------------------------------------------------------


def test_walks_follow_edges_and_stop_at_dead_ends(weighted_digraph):
    A = weighted_digraph
    W = random_walks(A, n_walks=20, walk_length=15, random_state=0)
    assert W.shape == (20 * 30, 15) and W.dtype == np.int32
    a, b = W[:, :-1].ravel(), W[:, 1:].ravel()
    moved = b >= 0
    assert (np.asarray(A[a[moved], b[moved]]).ravel() > 0).all()
    # -1 only after a vertex without out-going edges, and then to the end
    dead = np.flatnonzero(np.diff(A.indptr) == 0)
    stop = (a >= 0) & ~moved
    assert np.isin(a[stop], dead).all()
    assert ((W[:, :-1] < 0) <= (W[:, 1:] < 0)).all()
    assert stop.any()  # the fixture's dead ends are reached
    # every vertex starts n_walks walks
    assert (np.bincount(W[:, 0], minlength=30) == 20).all()


def test_transition_frequencies_follow_weights():
    weights = np.array([1.0, 2.0, 0.0, 3.0, 4.0])  # a zero-weight edge too
    rows = np.r_[[0] * 5, 1, 2, 3, 4, 5]
    cols = np.r_[1, 2, 3, 4, 5, [0] * 5]
    A = sp.csr_matrix((np.r_[weights, np.ones(5)], (rows, cols)), shape=(6, 6))
    assert A.nnz == 10  # the zero weight is stored
    W = random_walks(A, n_walks=400, walk_length=21, random_state=0)
    a, b = W[:, :-1].ravel(), W[:, 1:].ravel()
    counts = np.bincount(b[a == 0], minlength=6)[1:]
    assert counts[2] == 0  # never along the zero-weight edge
    keep = weights > 0
    expected = counts[keep].sum() * weights[keep] / weights[keep].sum()
    assert stats.chisquare(counts[keep], expected).pvalue > 1e-3
    # the test has power: uniform transitions are rejected
    uniform = np.full(keep.sum(), counts[keep].sum() / keep.sum())
    assert stats.chisquare(counts[keep], uniform).pvalue < 1e-6


def test_walks_reproducible_under_seed(weighted_digraph):
    one = random_walks(weighted_digraph, 3, 10, random_state=5)
    two = random_walks(weighted_digraph, 3, 10, random_state=5)
    other = random_walks(weighted_digraph, 3, 10, random_state=6)
    np.testing.assert_array_equal(one, two)
    assert (one != other).any()
    streamed = np.concatenate(list(iter_walks(weighted_digraph, 3, 10, random_state=5)))
    np.testing.assert_array_equal(one, streamed)


def test_walks_do_not_depend_on_the_block_size(weighted_digraph, monkeypatch):
    whole = random_walks(weighted_digraph, 3, 10, random_state=5)
    monkeypatch.setattr(walks, "_BLOCK", 7)  # 30 vertices: 5 blocks per pass
    np.testing.assert_array_equal(
        random_walks(weighted_digraph, 3, 10, random_state=5), whole
    )


def test_walker_starts_where_told(weighted_digraph):
    walker = walks.Walker(weighted_digraph)
    starts = np.array([4, 4, 0, 29])
    W = walker.walks(starts, 6, random_state=0)
    assert W.shape == (4, 6)
    np.testing.assert_array_equal(W[:, 0], starts)
    a, b = W[:, :-1].ravel(), W[:, 1:].ravel()
    moved = b >= 0
    assert (np.asarray(weighted_digraph[a[moved], b[moved]]).ravel() > 0).all()
    np.testing.assert_array_equal(walker.out_degree(), np.diff(weighted_digraph.indptr))
    with pytest.raises(ValueError, match=r"start vertices must be in \[0, 30\)"):
        walker.walks([0, 30], 6)


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_walk_parameters_checked(bad):
    with pytest.raises(ValueError, match="n_walks must be a positive integer"):
        random_walks(np.ones((2, 2)), n_walks=bad)


def test_window_pairs_stay_in_window():
    W = np.arange(40).reshape(4, 10)  # every vertex once: offsets are readable
    W[3, 4:] = -1  # a walk that stopped at a dead end
    c, x = window_pairs(W, window=2, size=5000, random_state=0)
    assert c.shape == x.shape == (5000,)
    assert (c // 10 == x // 10).all()  # same walk
    assert set(np.unique(x - c).tolist()) == {-2, -1, 1, 2}
    assert (c >= 0).all() and (x >= 0).all()
    assert not np.isin(np.r_[c, x], W[3, 4:]).any() and not (x >= 34).any()
    with pytest.raises(ValueError, match="window must be a positive integer"):
        window_pairs(W, window=0, size=3)


# -- DeepWalk -----------------------------------------------------------------


def small_deepwalk(**kw):
    params = dict(n_walks=10, walk_length=20, window=5, n_components=16, random_state=0)
    params.update(kw)
    return DeepWalk(**params)


def test_deepwalk_separates_sbm_blocks(sbm):
    A, labels = sbm
    E = small_deepwalk().fit_transform(A)
    assert E.shape == (300, 16) and E.dtype == np.float32
    acc = cross_val_score(LogisticRegression(max_iter=1000), E, labels, cv=3).mean()
    assert acc > 0.9  # chance is 1/3


def test_deepwalk_reproducible_under_seed(sbm):
    A = sbm[0][:60, :60]
    one = small_deepwalk(n_walks=3).fit_transform(A)
    two = small_deepwalk(n_walks=3).fit_transform(A)
    other = small_deepwalk(n_walks=3, random_state=1).fit_transform(A)
    np.testing.assert_array_equal(one, two)
    assert not np.allclose(one, other)


def test_deepwalk_counts_and_transductive_check(sbm):
    A = sbm[0]
    dw = small_deepwalk(n_walks=2, walk_length=5).fit(A)
    assert dw.vertex_counts_.sum() == 2 * 300 * 5  # no dead ends in this graph
    assert dw.transform(A) is dw.embedding_
    with pytest.raises(ValueError, match="fitted on a graph of 300 vertices, got one"):
        dw.transform(A[:10, :10])


def test_deepwalk_streams_walks():
    """Memory of a pass over the walks does not grow with the number of walks."""
    A = as_adjacency(sbm_adjacency(np.repeat([0, 1], 1000), 0.01, 0.001, 0))
    peaks = []
    for n_walks in (5, 50):
        corpus = embedding._WalkCorpus(A, n_walks, 40, seed=0)
        corpus.counts()  # compile the kernel outside the measure
        tracemalloc.start()
        counts = corpus.counts()
        n_tokens = sum(len(walk) for walk in corpus)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert counts.sum() == n_tokens == n_walks * 2000 * 40
    assert peaks[1] < 1.5 * peaks[0]


def test_presets():
    from pyunlocbox_gae.cli import embed as cli_embed

    assert DeepWalk.from_preset("paper").get_params()["n_walks"] == 80
    assert DeepWalk.from_preset("paper", window=3).window == 3
    assert tuple(sorted(embedding.PRESETS)) == cli_embed.PRESET_NAMES
    with pytest.raises(ValueError, match="unknown preset 'x'; choose one of"):
        DeepWalk.from_preset("x")


def test_missing_gensim_says_how_to_install(monkeypatch, sbm):
    monkeypatch.setitem(sys.modules, "gensim.models", None)
    with pytest.raises(ImportError, match=r"pip install 'pyunlocbox-gae\[embed\]'"):
        small_deepwalk().fit(sbm[0])


# -- files ----------------------------------------------------------------------


def test_save_load_round_trip(tmp_path, sbm):
    dw = small_deepwalk(n_walks=2).fit(sbm[0])
    dw.save(tmp_path / "e.h5")
    E, attrs = load_embedding(tmp_path / "e.h5")
    np.testing.assert_array_equal(E, dw.embedding_)
    assert E.dtype == np.float32
    assert attrs["method"] == "deepwalk" and attrs["window"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["e.h5"]  # no temporary left


def test_load_detects_corruption(tmp_path):
    path = tmp_path / "e.h5"
    save_embedding(path, np.ones((3, 2), dtype=np.float32))
    with h5py.File(path, "r+") as f:
        f["embedding"][0, 0] = 5
    with pytest.raises(ValueError, match="does not match its fingerprint"):
        load_embedding(path)
    with pytest.raises(ValueError, match=r"\(n_nodes, dim\) array, got shape \(3,\)"):
        save_embedding(tmp_path / "f.h5", np.ones(3))


# -- multi-label F1 ---------------------------------------------------------------


def test_multilabel_protocols_by_hand():
    Y = np.array([[1, 1, 0], [0, 0, 1], [1, 0, 0]])
    S = np.array([[0.9, 0.6, 0.1], [0.7, 0.1, 0.2], [0.3, 0.2, 0.1]])
    # oracle: top-2, top-1, top-1 -> [1,1,0], [1,0,0], [1,0,0]: tp 3, fp 1, fn 1
    assert multilabel_f1(Y, S, "oracle")["micro"] == pytest.approx(2 * 3 / (6 + 2))
    # threshold 0.5: [1,1,0], [1,0,0], none -> argmax [1,0,0]: same here
    assert multilabel_f1(Y, S, "threshold")["micro"] == pytest.approx(0.75)
    # threshold 0.15: [1,1,0], [1,0,1], [1,1,0]: tp 4, fp 2, fn 0
    low = multilabel_f1(Y, S, "threshold", threshold=0.15)
    assert low["micro"] == pytest.approx(8 / 10)
    # macro: per-label F1 of labels 0, 1, 2 = 4/5, 2/3, 1
    assert low["macro"] == pytest.approx((0.8 + 2 / 3 + 1) / 3)
    with pytest.raises(ValueError, match="protocol must be 'oracle' or 'threshold'"):
        multilabel_f1(Y, S, "top")
    with pytest.raises(ValueError, match="same shape"):
        multilabel_f1(Y, S[:2], "oracle")


def test_oracle_protocol_is_optimistic(rng):
    """The oracle protocol knows label counts: it beats thresholds on noisy scores."""
    Y = rng.random((400, 5)) < 0.3
    Y[~Y.any(axis=1), 0] = True
    scores = np.clip(Y * 0.3 + rng.random((400, 5)) * 0.7, 0, 1)
    oracle = embedding.evaluate_multilabel(scores, Y, n_repeats=3, random_state=0)
    assert oracle["oracle"]["micro"][0] > oracle["threshold"]["micro"][0]


# -- command line -----------------------------------------------------------------


def test_cli_embed(tmp_path, sbm, capsys):
    sp.save_npz(tmp_path / "g.npz", sbm[0])
    args = ["embed", str(tmp_path / "g.npz"), str(tmp_path / "e.h5"), "--walks", "2"]
    assert main(args + ["--length", "5", "--dim", "8", "--seed", "3"]) == 0
    E, attrs = load_embedding(tmp_path / "e.h5")
    assert E.shape == (300, 8) and attrs["random_state"] == 3
    assert "embedded 300 vertices in 8 dimensions" in capsys.readouterr().out
    assert main(["embed", str(tmp_path / "g.txt"), str(tmp_path / "x.h5")]) == 2
    assert "a graph file ends in .npz" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_bytes(b"nothing")
    assert main(["embed", str(tmp_path / "bad.npz"), str(tmp_path / "x.h5")]) == 2
    assert "is not a scipy sparse matrix saved by save_npz" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_cli_reads_hdf5_graph(tmp_path, sbm):
    from pyunlocbox_gae import graphs, store
    from pyunlocbox_gae.cli import embed as cli_embed

    A = sbm[0]
    G = graphs.as_graph(A, n_samples=A.shape[0])
    graphs.save_graph(tmp_path / "g.h5", G)
    # the file written by `gae graph build` reads back as the same adjacency
    assert abs(cli_embed.read_graph(tmp_path / "g.h5") - G.W).max() == 0
    with store.write_h5(tmp_path / "h.h5", "frames") as f:
        f.create_dataset("x", data=np.ones(2))
    with pytest.raises(ValueError, match="h.h5"):
        cli_embed.read_graph(tmp_path / "h.h5")
