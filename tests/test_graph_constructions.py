"""Graph constructions (temporal, denoised views, clip-level, learned) and lg='auto'."""

import numpy as np
import pytest
import scipy.sparse as sp

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs import (
    clipwise,
    constructions,
    iterated,
    learned,
    temporal,
    views,
)
from pyunlocbox_gae.graphs.knn import knn_graph
from pyunlocbox_gae.model import lg_auto
from pyunlocbox_gae.model.estimator import GraphAutoEncoder


def _clips(lengths):
    return np.repeat(np.arange(len(lengths)), lengths)


def _noisy_clips(n_classes=3, per_class=8, noise=1.0, n_features=12, seed=0):
    """Clips of 4 to 12 frames; each class a spectrum, every frame very noisy."""
    rng = np.random.default_rng(seed)
    means = rng.random((n_classes, n_features)) * 3
    lengths = rng.integers(4, 13, n_classes * per_class)
    labels = np.repeat(np.arange(n_classes), per_class)
    clips = _clips(lengths)
    y = labels[clips]
    X = means[y] + noise * rng.standard_normal((len(y), n_features))
    return X.astype(np.float32), y, clips


# Temporal adjacency.


def test_temporal_edges_stay_in_clips_and_within_radius():
    clips = _clips([5, 1, 7])
    W = temporal.temporal_adjacency(clips, radius=2, decay=0.5).tocoo()
    assert np.all(clips[W.row] == clips[W.col])
    steps = np.abs(W.row - W.col)
    assert set(steps.tolist()) == {1, 2}
    assert np.allclose(W.data, np.where(steps == 1, 1.0, 0.5))
    assert abs(W - W.T).max() == 0
    # An interior frame of the 7-frame clip: two streams' neighbours each side.
    assert W.tocsr()[8].nnz == 4
    assert W.dtype == np.float32


def test_temporal_graph_has_self_loops_and_no_isolated_vertex():
    G = temporal.temporal_graph(_clips([1, 3]))
    assert np.all(G.W.diagonal() == 1)
    assert np.all(np.asarray(G.W.sum(axis=1)).ravel() >= 1)


def test_clips_must_be_contiguous():
    with pytest.raises(InputError, match="not contiguous"):
        temporal.temporal_adjacency([0, 1, 0])


def test_mix_weighs_the_two_kinds_of_edge():
    A = sp.random(20, 20, density=0.2, random_state=0, dtype=np.float32)
    A = (A + A.T).tocsr()
    A.setdiag(1)
    T = temporal.temporal_adjacency(_clips([10, 10]))
    keep = temporal.mix_adjacency(A, T, 0.0)
    only = temporal.mix_adjacency(A, T, 1.0)
    off = A.copy()
    off.setdiag(0)
    off.eliminate_zeros()
    assert np.allclose(
        (keep - sp.diags(A.diagonal())).toarray(), off.toarray() / off.max()
    )
    assert np.allclose((only - sp.diags(A.diagonal())).toarray(), T.toarray())
    assert temporal.mix_adjacency(A, T, 0.3).dtype == np.float32
    with pytest.raises(InputError, match="mix"):
        temporal.mix_adjacency(A, T, 1.5)


# Denoised views.


def test_time_average_is_the_windowed_mean_within_each_clip():
    rng = np.random.default_rng(1)
    clips = _clips([1, 4, 9])
    X = rng.random((len(clips), 3)).astype(np.float32)
    out = views.time_average(X, clips, width=4)
    assert out.dtype == np.float32
    expect = np.empty_like(X)
    for c in np.unique(clips):
        rows = np.flatnonzero(clips == c)
        for t, r in enumerate(rows):
            lo, hi = max(t - 2, 0), min(t + 2, len(rows))
            expect[r] = X[rows[lo:hi]].mean(axis=0)
    assert np.allclose(out, expect, atol=1e-6)


def test_time_average_lowers_independent_noise():
    X, y, clips = _noisy_clips(noise=1.0)
    smooth = views.time_average(X, clips, width=5)
    means = np.array([X[y == c].mean(axis=0) for c in range(3)])
    err_raw = np.mean((X - means[y]) ** 2)
    err_smooth = np.mean((smooth - means[y]) ** 2)
    assert err_smooth < 0.5 * err_raw


def test_low_rank_view_recovers_planted_neighbours_better_than_raw():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 50)
    basis = rng.standard_normal((4, 60))
    X = (basis[y] + 3.0 * rng.standard_normal((200, 60))).astype(np.float32)
    raw = constructions.build_graph(X, "knn", k=5)
    low = constructions.build_graph(X, "lowrank", rank=4, k=5)
    assert (
        constructions.same_label_fraction(low, y)
        > constructions.same_label_fraction(raw, y) + 0.1
    )


def test_view_graph_needs_clips_for_smoothing_and_a_known_view():
    X = np.zeros((10, 2), np.float32)
    with pytest.raises(InputError, match="clip of each row"):
        views.view_graph(X, "smoothed")
    with pytest.raises(InputError, match="view must be one of"):
        views.view_graph(X, "median")


# The codes view re-built during the fit.


def test_iterated_fit_continues_warm_and_ends_on_the_graph_of_its_codes():
    X, y, clips = _noisy_clips(per_class=4)
    knn = dict(k=4)
    G, model, history = iterated.iterated_fit(
        X, rounds=2, outer=2, n_atoms=6, lg=10.0, ls=0.5, **knn
    )
    # the same two rounds by hand: a fit on the k-NN graph of X, then a fit
    # started from its atoms on the k-NN graph of its codes
    common = dict(n_atoms=6, lg=10.0, ls=0.5, max_outer=2, random_state=0)
    first = GraphAutoEncoder(
        graph=knn_graph(X, random_state=0, **knn), dict_init="samples", **common
    )
    Z1 = first.fit_transform(X)
    second = GraphAutoEncoder(
        graph=knn_graph(Z1, random_state=0, **knn),
        dict_init=first.components_,
        **common,
    )
    Z2 = second.fit_transform(X)
    np.testing.assert_allclose(model.components_, second.components_, atol=1e-6)
    assert abs(G.W - knn_graph(Z2, random_state=0, **knn).W).max() < 1e-6
    assert [h["round"] for h in history] == [1, 2]
    assert all(h["n_outer"] <= 2 and h["lg"] == 10.0 for h in history)
    assert G.graph_params["view"] == "codes_iterated" and G.neighbors is None


def test_iterated_graph_explains_bad_counts():
    X = np.zeros((10, 2), np.float32)
    with pytest.raises(InputError, match="outer must be a positive integer"):
        iterated.iterated_fit(X, outer=0)
    with pytest.raises(InputError, match="rounds must be a positive integer"):
        constructions.build_graph(X, "codes_iterated", rounds=1.5)


# Clip-level k-NN.


def test_clip_graph_carries_class_structure_that_frame_knn_misses():
    X, y, clips = _noisy_clips(noise=1.5)
    frame = constructions.same_label_fraction(
        constructions.build_graph(X, "knn", k=5), y
    )
    clip = constructions.same_label_fraction(
        constructions.build_graph(X, "clips", clips, k=5), y
    )
    assert clip > 0.9 and clip > frame + 0.25


def test_clip_edges_join_frames_at_the_same_relative_time():
    X = np.r_[np.zeros((4, 2)), np.ones((8, 2)), np.full((2, 2), 0.1)]
    clips = _clips([4, 8, 2])
    W = clipwise.clip_adjacency(X.astype(np.float32), clips, k=1).tocoo()
    pairs = {(r, c) for r, c in zip(W.row.tolist(), W.col.tolist(), strict=True)}
    # Clip 0 (4 frames) and clip 2 (2 frames) are nearest: frames 0, 1 of
    # clip 0 go to frame 12, frames 2, 3 to frame 13.
    assert {(0, 12), (1, 12), (2, 13), (3, 13)} <= pairs
    assert all(clips[r] != clips[c] for r, c in pairs)
    with pytest.raises(InputError, match="k must be"):
        clipwise.clip_adjacency(X, clips, k=3)


# Learned graph.


def test_learned_weights_satisfy_the_optimality_conditions():
    rng = np.random.default_rng(3)
    X = rng.random((25, 3))
    nb = learned.search_neighbors(X, k=6, backend="exact")
    i, j, z = learned._edges(nb)
    theta = learned.theta_for_degree(nb, 3)
    w, _ = learned.learn_weights(i, j, z, 25, theta, k=3, max_iter=600)
    d = np.bincount(i, w, 25) + np.bincount(j, w, 25)
    # Gradient of 2θ zᵀw − Σ log d + ||w||² w.r.t. each edge weight.
    grad = 2 * theta * z - 1 / d[i] - 1 / d[j] + 2 * w
    scale = np.abs(1 / d).max()
    on = w > 1e-6 * w.max()
    assert np.abs(grad[on]).max() < 1e-3 * scale  # stationary on the support
    assert grad[~on].min() > -1e-3 * scale  # no pruned edge would lower it
    assert on.sum() < len(w)  # θ made it sparse


def test_learned_graph_joins_neither_cluster_to_the_other_and_hits_the_degree():
    rng = np.random.default_rng(4)
    X = np.r_[rng.normal(0, 0.3, (60, 4)), rng.normal(5, 0.3, (60, 4))]
    G = learned.learned_graph(X.astype(np.float32), k=6, n_candidates=20)
    W = G.W.toarray()
    assert W[:60, 60:].sum() == 0
    assert G.W.dtype == np.float32 and np.allclose(W, W.T)
    assert 3 <= G.graph_params["mean_neighbors"] <= 12


def test_edge_cost_and_log_degree_proximal_maps_are_minimisers():
    rng = np.random.default_rng(5)
    v, z, T = rng.standard_normal(6), rng.random(6), 0.7
    f, g = learned.edge_cost(z, theta=2.0), learned.log_degree()
    for fun, feasible in (
        (f, lambda x: np.maximum(x, 0)),
        (g, lambda x: np.abs(x) + 1e-3),
    ):
        p = fun.prox(v, T)
        best = fun.eval(p) + 0.5 / T * np.sum((p - v) ** 2)
        for _ in range(50):
            q = feasible(p + 0.05 * rng.standard_normal(6))
            assert fun.eval(q) + 0.5 / T * np.sum((q - v) ** 2) >= best - 1e-9


# build_graph and the same-label fraction.


@pytest.mark.parametrize("name", constructions.CONSTRUCTIONS)
def test_every_construction_gives_a_symmetric_float32_graph(name):
    X, y, clips = _noisy_clips(per_class=4)
    G = constructions.build_graph(X, name, clips, k=4, rank=6, width=3, rounds=2)
    assert G.N == len(X) and G.W.dtype == G.L.dtype == np.float32
    assert abs(G.W - G.W.T).max() < 1e-6
    assert G.lmax_exact <= 2 + 1e-4


def test_temporal_mix_adds_only_same_clip_edges():
    X, y, clips = _noisy_clips(per_class=4)
    base = constructions.build_graph(X, "knn", k=4)
    mixed = constructions.build_graph(X, "knn", clips, temporal_mix=0.5, k=4)
    new = ((mixed.W != 0).astype(int) - (base.W != 0).astype(int)).tocoo()
    added = new.data > 0
    assert added.any() and np.all(clips[new.row[added]] == clips[new.col[added]])
    assert mixed.graph_params["temporal_mix"] == 0.5


def test_build_graph_explains_bad_input():
    X = np.zeros((6, 2), np.float32)
    with pytest.raises(InputError, match="construction must be one of"):
        constructions.build_graph(X, "spectral")
    with pytest.raises(InputError, match="temporal_mix=0.5 needs the clip"):
        constructions.build_graph(X, "knn", temporal_mix=0.5, k=2)


def test_same_label_fraction_weighted_and_not():
    W = sp.csr_matrix(np.array([[1, 3, 1], [3, 0, 0], [1, 0, 1]], float))
    assert constructions.same_label_fraction(W, [0, 0, 1]) == 0.5
    assert constructions.same_label_fraction(W, [0, 0, 1], weighted=True) == 0.75
    with pytest.raises(InputError, match="2 labels for a graph of 3"):
        constructions.same_label_fraction(W, [0, 1])


# lg='auto'.


@pytest.mark.parametrize("sigma", [0.05, 0.2, 0.5])
def test_noise_level_recovers_the_planted_noise(sigma):
    rng = np.random.default_rng(6)
    signal = rng.random((3000, 4)) @ rng.random((4, 50))
    X = signal + sigma * rng.standard_normal(signal.shape)
    assert abs(lg_auto.noise_level(X) - sigma) < 0.05 * sigma


def test_choose_lg_grows_with_the_noise():
    rng = np.random.default_rng(7)
    signal = rng.random((1000, 4)) @ rng.random((4, 30))
    spread = signal.std()
    chosen = [
        lg_auto.choose_lg(signal + s * spread * rng.standard_normal(signal.shape))[0]
        for s in (0.0, 0.5, 0.8, 3.0)
    ]
    assert chosen[0] == lg_auto.LG_CLEAN and chosen[-1] == lg_auto.LG_NOISY
    assert all(a <= b for a, b in zip(chosen, chosen[1:], strict=False))
    assert any(lg_auto.LG_CLEAN < c < lg_auto.LG_NOISY for c in chosen)


def test_estimator_lg_auto_fits_as_with_the_chosen_value_and_records_why():
    rng = np.random.default_rng(8)
    X = (rng.random((120, 3)) @ rng.random((3, 10))).astype(np.float32)
    X += 0.3 * rng.standard_normal(X.shape).astype(np.float32)
    params = dict(n_atoms=6, max_outer=3, random_state=0)
    auto = GraphAutoEncoder(lg="auto", **params)
    Z = auto.fit_transform(X)
    lg, reason = lg_auto.choose_lg(X)
    assert auto.lg_ == lg and auto.history_[0]["lg_auto"] == lg
    assert auto.history_[0]["lg_auto_reason"] == reason == auto.lg_reason_
    fixed = GraphAutoEncoder(lg=lg, **params)
    assert np.allclose(Z, fixed.fit_transform(X), atol=1e-5)
    assert Z.dtype == np.float32
    assert np.allclose(auto.transform(X[:5]), fixed.transform(X[:5]), atol=1e-4)
    assert GraphAutoEncoder(lg=2.0, **params).fit(X).lg_reason_ is None


def test_estimator_rejects_other_strings_for_lg():
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="lg"):
        GraphAutoEncoder(lg="high").fit(np.random.default_rng(0).random((10, 3)))


# The experiment chain.


def test_experiment_point_with_a_temporal_construction_and_auto_lg():
    from pyunlocbox_gae.experiments import checks, sources
    from pyunlocbox_gae.experiments.settings import make_config
    from pyunlocbox_gae.experiments.sweep import run_point

    X, y, clips = _noisy_clips(per_class=6, noise=0.5)
    data = sources.Data(X, y[np.r_[0, np.flatnonzero(np.diff(clips)) + 1]][clips],
                        ["a", "b", "c"], clips=clips)  # fmt: skip
    config = make_config(
        construction="clips", temporal_mix=0.3, k=3, lg="auto", n_atoms=8,
        max_outer=2, controls=["random"], pooling="mean", n_splits=3, n_repeats=1,
    )  # fmt: skip
    checks.check_values(config)
    record, _ = run_point(config, data=data)
    assert "lg_auto_reason" in record["history"][0]
    assert "diff_random" in record and len(record["scores"]) == 3
    with pytest.raises(InputError, match="construction"):
        checks.check_values(make_config(construction="spectral"))


def test_experiment_point_with_the_iterated_codes_graph_and_auto_lg_cached(tmp_path):
    from pyunlocbox_gae.experiments import checks, sources
    from pyunlocbox_gae.experiments.settings import make_config
    from pyunlocbox_gae.experiments.sweep import run_point

    X, y, clips = _noisy_clips(per_class=6, noise=0.5)
    data = sources.Data(X, y, ["a", "b", "c"], clips=clips)
    config = make_config(
        construction="codes_iterated", view_rank=4, view_rounds=2, k=3, lg="auto",
        n_atoms=8, max_outer=2, controls=["ridge"], pooling="mean", n_splits=3,
        n_repeats=1,
    )  # fmt: skip
    checks.check_values(config)
    # with a cache folder the fit checkpoints, which must accept lg='auto'
    record, _ = run_point(config, cache=tmp_path, data=data)
    assert record["history"][0]["lg_auto"] > 0
    assert "diff_ridge" in record and len(record["scores"]) == 3
    again, _ = run_point(config, cache=tmp_path, data=data)
    assert again["cached_graph"] and again["scores"] == record["scores"]
    with pytest.raises(InputError, match="view_rounds"):
        checks.check_values(make_config(view_rounds=0))


# Neighbours among other clips only, and the context view.


@pytest.mark.parametrize("name", constructions.CROSS_CLIP)
def test_cross_clip_graph_has_no_edge_within_a_clip(name):
    X, y, clips = _noisy_clips(per_class=4)
    G = constructions.build_graph(X, name, clips, cross_clip=True, k=4, rank=6, width=3)
    W = G.W.tocoo()
    off = W.row != W.col
    assert off.any() and not np.any(clips[W.row[off]] == clips[W.col[off]])
    assert np.all(G.W.diagonal() == 1) and abs(G.W - G.W.T).max() < 1e-6
    assert G.graph_params["cross_clip"] is True


def test_cross_clip_neighbors_are_the_nearest_rows_of_other_clips():
    X, y, clips = _noisy_clips(per_class=4, n_features=3)
    nb = views.cross_clip_neighbors(X, clips, k=5)
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    D[clips[:, None] == clips[None]] = np.inf  # own clip (and self) excluded
    expected = np.sort(D, axis=1)[:, :5]
    assert np.allclose(nb.distances, expected, atol=1e-5)
    assert np.allclose(
        np.take_along_axis(D, nb.indices, axis=1), nb.distances, atol=1e-5
    )


def test_cross_clip_finds_more_other_clip_edges_of_the_class_than_knn():
    # Frames of one clip share a clip offset, so plain k-NN stays in the clip.
    X, y, clips = _noisy_clips(per_class=6, noise=0.3)
    X = X + 2 * np.random.default_rng(1).random((clips.max() + 1, 1))[clips]
    plain = constructions.build_graph(X, "knn", k=4)
    cross = constructions.build_graph(X, "knn", clips, cross_clip=True, k=4)

    def between_clips(G):
        W = G.W.tocoo()
        keep = clips[W.row] != clips[W.col]
        return int(keep.sum())

    assert between_clips(cross) > between_clips(plain)
    assert constructions.same_label_fraction(cross, y) > 1 / 3


def test_context_frames_stack_the_window_with_edge_padding():
    rng = np.random.default_rng(0)
    X = rng.random((9, 2)).astype(np.float32)
    clips = _clips([4, 1, 4])
    C = views.context_frames(X, clips, width=5)
    assert C.shape == (9, 10) and C.dtype == np.float32
    for t, c in enumerate(clips):
        rows = np.flatnonzero(clips == c)
        for j, offset in enumerate(range(-2, 3)):
            source = np.clip(t + offset, rows[0], rows[-1])
            assert np.array_equal(C[t, 2 * j : 2 * j + 2], X[source])
    assert np.array_equal(views.context_frames(X, clips, width=1), X)


def test_context_view_lowers_the_noise_in_the_distances():
    X, y, clips = _noisy_clips(per_class=8, noise=1.5)
    knn = constructions.build_graph(X, "knn", k=4)
    context = constructions.build_graph(X, "context", clips, k=4, width=5)
    assert constructions.same_label_fraction(
        context, y
    ) > constructions.same_label_fraction(knn, y)


def test_cross_clip_and_context_explain_bad_input():
    X, y, clips = _noisy_clips(per_class=2)
    with pytest.raises(InputError, match="cross_clip=True needs the clip"):
        constructions.build_graph(X, "knn", cross_clip=True, k=2)
    with pytest.raises(InputError, match="construction 'context' needs the clip"):
        constructions.build_graph(X, "context", k=2)
    with pytest.raises(InputError, match="has none: use one of"):
        constructions.build_graph(X, "temporal", clips, cross_clip=True)
    with pytest.raises(InputError, match="odd positive integer"):
        views.context_frames(X, clips, width=4)
    with pytest.raises(InputError, match="at most"):
        views.cross_clip_neighbors(X, clips, k=len(X))
    with pytest.raises(InputError, match="reads the clip of each row"):
        views.view_graph(X, "context")
    from pyunlocbox_gae.experiments import checks
    from pyunlocbox_gae.experiments.settings import make_config

    with pytest.raises(InputError, match="cross_clip = false"):
        checks.check_protocols(make_config(cross_clip=True, mode="inductive"))
