"""The Dask fit: same result as the single-process estimator, halo-only traffic."""

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import knn_pygsp
from pyunlocbox_gae import GraphAutoEncoder
from pyunlocbox_gae.model.distributed import _Layout, fit_distributed, partition

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _two_clusters(rng, N=120, n=6, dtype=np.float64):
    """Samples in two far-apart groups, interleaved, so RCM must regroup them."""
    X = rng.standard_normal((N, n))
    X[::2] += 8.0
    return X.astype(dtype)


def _objective(X, D, Z, E, G, ld, ls, lg, le):
    """The objective evaluated directly, in float64, independently of the package."""
    X, D, Z = (np.asarray(a, dtype=np.float64) for a in (X, D, Z))
    R = X - Z @ D
    f = 0.5 * ld * np.vdot(R, R) + ls * np.abs(Z).sum()
    f += 0.5 * lg * np.vdot(Z, G.L.astype(np.float64) @ Z)
    if E is not None:
        R = Z - X @ np.asarray(E, dtype=np.float64).T
        f += 0.5 * le * np.vdot(R, R)
    return float(f)


def test_partition_is_a_permutation_that_keeps_components_together(rng):
    X = _two_clusters(rng)
    G = knn_pygsp(X, k=4)
    blocks = partition(G.W, 2)
    assert sorted(np.concatenate(blocks).tolist()) == list(range(len(X)))
    # Each block is one of the two groups (even / odd samples): no edge is cut.
    parity = [set((b % 2).tolist()) for b in blocks]
    assert sorted(map(sorted, parity)) == [[0], [1]]
    layout = _Layout(G.L.tocsr(), blocks)
    assert layout.halo_rows() == 0


def test_halo_holds_exactly_the_outside_neighbours(rng):
    X = rng.standard_normal((80, 4))
    G = knn_pygsp(X, k=4)
    L = G.L.tocsr()
    blocks = partition(L, 3)
    layout = _Layout(L, blocks)
    owner = np.empty(len(X), int)
    for b, idx in enumerate(blocks):
        owner[idx] = b
    for b, idx in enumerate(blocks):
        expected = set(np.unique(L[idx].indices).tolist()) - set(idx.tolist())
        got = {int(blocks[c][i]) for c, rows in layout.recv[b] for i in rows}
        assert got == expected
        # L_bb and L_bh together are the block's rows of L, columns reordered.
        halo = [int(blocks[c][i]) for c, rows in layout.recv[b] for i in rows]
        full = L[idx][:, np.concatenate([idx, np.array(halo, int)])]
        pieces = [layout.L_bb[b]] + ([layout.L_bh[b]] if halo else [])
        assert (sp.hstack(pieces) != full).nnz == 0


def test_partition_rejects_bad_block_counts():
    with pytest.raises(ValueError, match=r"n_blocks must be between 1 and .* \(3\)"):
        partition(sp.eye(3, format="csr"), 4)


@pytest.mark.parametrize("le", [0.0, 0.5])
def test_matches_the_single_process_estimator(client, rng, le):
    X = rng.random((150, 6))
    G = knn_pygsp(X, k=5, dtype=np.float64)
    D0 = rng.random((8, 6))
    D0_copy = D0.copy()
    w = dict(ld=2.0, ls=0.05, lg=1.0, le=le)
    tight = dict(rtol=1e-10, max_inner=5000, max_outer=3, rtol_outer=0.0)
    # A copy: the estimator normalises a float64 dict_init in place.
    gae = GraphAutoEncoder(n_atoms=8, graph=G, dict_init=D0.copy(), **w, **tight)
    Z1 = gae.fit_transform(X)
    D2, Z2, E2, hist = fit_distributed(
        X,
        G,
        client,
        n_atoms=8,
        dict_init=D0,
        n_blocks=3,
        max_sweeps=300,
        **w,
        **tight,
    )
    f1 = _objective(X, gae.components_, Z1, gae.encoder_, G, **w)
    f2 = _objective(X, D2, Z2, E2, G, **w)
    assert abs(f1 - f2) <= 1e-5 * f1
    # The history's objective, from reduced statistics, is the true one.
    assert hist[-1]["objective"] == pytest.approx(f2, rel=1e-9)
    assert np.allclose(D2, gae.components_, atol=1e-4)
    # The graph couples the blocks: halo rows were exchanged.
    assert all(h["bytes_halo"] > 0 for h in hist)
    assert np.array_equal(D0, D0_copy)  # the caller's dict_init is left alone


def test_float32_kept_and_blocks_without_graph(client, rng):
    X = rng.random((90, 5)).astype(np.float32)
    D, Z, E, hist = fit_distributed(
        X, None, client, n_atoms=4, ls=0.1, le=0.5, max_outer=2, random_state=0
    )
    assert D.dtype == Z.dtype == E.dtype == np.float32
    assert all(h["bytes_halo"] == 0 for h in hist)
    # Without a graph every block is independent: one sweep per codes step.
    assert all(h["sweeps"] == 1 for h in hist)
    assert hist[-1]["objective"] <= hist[0]["objective"]


def test_a_checkpointed_fit_resumes_to_the_uninterrupted_result(client, rng, tmp_path):
    X = rng.random((120, 6)).astype(np.float32)
    G = knn_pygsp(X, k=5)
    kw = dict(n_atoms=6, ld=2.0, ls=0.05, lg=1.0, le=0.5, n_blocks=3)
    kw.update(rtol_outer=0.0, random_state=0)
    D, Z, E, hist = fit_distributed(X, G, client, max_outer=4, **kw)
    path = tmp_path / "fit.h5"
    # Stopped after 2 outer iterations (its checkpoint written), then resumed.
    fit_distributed(X, G, client, max_outer=2, checkpoint=path, **kw)
    outers = []
    D2, Z2, E2, hist2 = fit_distributed(
        X, G, client, max_outer=4, checkpoint=path, callback=outers.append, **kw
    )
    assert [e["outer"] for e in outers] == [3, 4]  # only the remaining ones ran
    np.testing.assert_array_equal(D2, D)
    np.testing.assert_array_equal(Z2, Z)
    np.testing.assert_array_equal(E2, E)
    assert [h["objective"] for h in hist2] == [h["objective"] for h in hist]
    # Another block layout is another trajectory: refused, with the reason.
    with pytest.raises(ValueError, match="n_blocks=3 there, 2 here"):
        fit_distributed(
            X, G, client, max_outer=4, checkpoint=path, **kw | dict(n_blocks=2)
        )


def test_bad_input(client, rng):
    X = rng.random((30, 4))
    G = knn_pygsp(X, k=3, dtype=np.float64)
    with pytest.raises(ValueError, match="the graph has 30 vertices but X has 20"):
        fit_distributed(X[:20], G, client, n_atoms=3, lg=1.0)
    with pytest.raises(ValueError, match=r"lg > 0 needs graph="):
        fit_distributed(X, None, client, n_atoms=3, lg=1.0)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_distributed(X, G, client, n_atoms=3, lg=1.0)


def test_block_shares_sum_to_the_full_objective(rng):
    """Halo bookkeeping: block objectives (cross energy halved) and graph rows sum."""
    from pyunlocbox_gae.model.distributed import _block_stats, _rows, _solve_block
    from pyunlocbox_gae.model.objective import term_weights

    X = rng.random((70, 5))
    G = knn_pygsp(X, k=4, dtype=np.float64)
    L = G.L.tocsr()
    m, w = 6, dict(ld=2.0, ls=0.3, lg=1.5, le=0.7)
    D = rng.standard_normal((5, m))
    E = rng.standard_normal((m, 5)) / 3
    Z = rng.standard_normal((70, m))
    blocks = partition(L, 3)
    layout = _Layout(L, blocks)
    Zb = [Z[b] for b in blocks]
    total = graph = 0.0
    for b, idx in enumerate(blocks):
        halo = [_rows(Zb[c], i) for c, i in layout.recv[b]]
        args = (X[idx], layout.L_bb[b], layout.L_bh[b], 2.0, Zb[b], halo, D, E)
        weights = term_weights(w)
        _, share, _, _ = _solve_block(*args, weights, "fista", dict(maxit=1))
        total += share
        graph += _block_stats(X[idx], Zb[b], layout.L_bb[b], layout.L_bh[b], halo, 1.0)[
            "graph"
        ]
    assert total == pytest.approx(_objective(X, D.T, Z, E, G, **w), rel=1e-12)
    assert graph == pytest.approx(np.vdot(Z, L @ Z), rel=1e-12)


def test_solver_choice_is_honoured_and_unsupported_terms_refused(client, rng):
    X = rng.random((80, 5))
    G = knn_pygsp(X, k=4, dtype=np.float64)
    common = dict(n_atoms=4, ls=0.1, max_outer=2, random_state=0)
    tight = dict(rtol=1e-9, max_inner=3000, rtol_outer=0.0)
    finals = {
        solver: fit_distributed(X, None, client, solver=solver, **common, **tight)[3]
        for solver in ("fista", "primal_dual")
    }
    assert finals["primal_dual"][-1]["objective"] == pytest.approx(
        finals["fista"][-1]["objective"], rel=1e-4
    )
    with pytest.raises(ValueError, match="cannot use solver='primal_dual' with lg"):
        fit_distributed(X, G, client, solver="primal_dual", lg=1.0, **common)
    common["lg"] = 1.0
    # Non-negative codes through the registry, on the workers too.
    _, Z, _, _ = fit_distributed(X, G, client, positive_code=True, **common)
    assert Z.min() >= 0
    with pytest.raises(ValueError, match="does not support lt"):
        fit_distributed(X, G, client, lt=0.1, **common)
    with pytest.raises(ValueError, match="does not take batch_size"):
        fit_distributed(X, G, client, batch_size=64, **common)
    with pytest.raises(ValueError, match="solver"):
        fit_distributed(X, G, client, solver="adam", **common)
