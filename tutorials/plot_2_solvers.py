"""
Solvers for the codes: FISTA, forward-backward and primal-dual
==============================================================

The same codes problem on digits, with a learned dictionary and a k-NN graph,

    min_Z  ld/2 ||X - D Z||² + ls ||Z||_1 + lg/2 tr(Z L Zᵀ),

solved by three PyUNLocBoX solvers: forward-backward with FISTA
acceleration, plain forward-backward (ISTA), and the primal-dual MLFBF, which
handles the graph term in the dual through the graph gradient B (BᵀB = L,
so tr(Z L Zᵀ) = ||Z Bᵀ||²). We plot the objective against iterations and
against seconds.

The primal-dual form opens a door the original study proposed and never
built: the graph **total variation** lg ||Z Bᵀ||_1, an L1 norm of the graph
gradient of the codes, which favours codes that are piecewise constant on
the graph rather than smooth. Only its proximal operator (in the dual) is
needed, so MLFBF minimises it as easily.
"""

import os
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from pyunlocbox import acceleration, solvers
from sklearn.datasets import load_digits

from pyunlocbox_gae import GraphAutoEncoder, functions, graphs

OUTPUT = Path(
    sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GAE_TUTORIALS_OUTPUT", ".")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
SIZE = float(os.environ.get("GAE_TUTORIALS_SIZE", "1"))
ITERATIONS = max(int(300 * SIZE), 30)

# %%
# A dictionary learned briefly without graph, then a fixed codes problem.

X_api = (load_digits().data[: max(int(1000 * SIZE), 100)] / 16).astype(np.float32)
D = GraphAutoEncoder(32, max_outer=3, random_state=0).fit(X_api).components_.T
X = X_api.T  # (n, N)
ld, ls, lg = 10.0, 1.0, 10.0
G = graphs.knn_graph(X_api, k=10)
data = functions.fidelity_z(X, D, lambda_=ld)
dirichlet = functions.dirichlet(G, lambda_=lg)
sparsity = functions.sparsity(lambda_=ls)
B = dirichlet.gradient_operator()  # (n_edges, N), BᵀB = L
norm_B = np.sqrt(dirichlet.lmax)  # ||B||_2 = sqrt(lmax(L))


def objective(Z, tv=False):
    """The full objective, evaluated the same way for every solver."""
    graph_term = total_variation.eval(Z) if tv else dirichlet.eval(Z)
    return data.eval(Z) + sparsity.eval(Z) + graph_term


dirichlet.grad(np.zeros((D.shape[1], X.shape[1]), np.float32))  # JIT warm-up


def run(solver, funs, tv=False, iterations=ITERATIONS):
    """Drive a PyUNLocBoX solver step by step: objective and clock per step."""
    Z = np.zeros((D.shape[1], X.shape[1]), dtype=np.float32)
    solver.verbosity = "NONE"  # pyunlocbox.solvers.solve sets it; we drive by hand
    solver.pre(funs, Z)
    values, seconds, t = [objective(Z, tv)], [0.0], 0.0
    for it in range(1, iterations + 1):
        start = time.perf_counter()
        solver.algo([], it)
        t += time.perf_counter() - start  # the objective is not timed
        values.append(objective(solver.sol, tv))
        seconds.append(t)
    solver.post()
    return np.array(values), np.array(seconds)


# %%
# Forward-backward: the smooth part (data + graph) by its gradient, the L1
# norm by its proximal operator; step 1/β.

smooth = functions.smooth_sum([data, dirichlet])
step = 1.0 / smooth.lipschitz()
# Two untimed steps first: numba compiles the graph kernels on first use,
# which is not the solver's cost.
run(solvers.forward_backward(step=step), [sparsity, smooth], iterations=2)
results = {
    "FISTA": run(
        solvers.forward_backward(step=step, accel=acceleration.fista()),
        [sparsity, smooth],
    ),
    "forward-backward (ISTA)": run(
        solvers.forward_backward(step=step, accel=acceleration.dummy()),
        [sparsity, smooth],
    ),
}

# %%
# MLFBF minimises f(Z) + g(L(Z)) + h(Z): f the L1 norm (prox), g the graph
# term on U = Z Bᵀ (its prox, used through Moreau's identity in the dual),
# h the data term (gradient). Step below 1/(β_h + ||B||).

to_edges = lambda Z: (B @ Z.T).T  # noqa: E731
from_edges = lambda U: (B.T @ U.T).T  # noqa: E731
pd_step = 0.99 / (data.lipschitz() + norm_B)
results["primal-dual (MLFBF)"] = run(
    solvers.mlfbf(L=to_edges, Lt=from_edges, step=pd_step),
    [sparsity, functions.squared_frobenius(lg), data],
)

# %%
# The graph total-variation variant: g = lg_tv ||·||_1 on the graph
# gradient (:class:`pyunlocbox_gae.functions.graph_tv`, which the estimator
# takes as ``lt``). An L1 norm of differences is of another scale than the squared
# norm; a smaller weight keeps the terms balanced. The dual variable lives
# in the box [-lg_tv, lg_tv], which it must fill before the primal settles:
# the objective first rises from Z = 0.

lg_tv = 1.0
total_variation = functions.graph_tv(G, lambda_=lg_tv)

tv_solver = solvers.mlfbf(
    L=total_variation.apply, Lt=total_variation.apply_adjoint, step=pd_step
)
tv_values, tv_seconds = run(
    tv_solver, [sparsity, total_variation.dual_term(), data], tv=True
)

# %%
# Objective against iterations and seconds (log scale of the gap to the
# best value any solver reached).

best = min(v.min() for v, _ in results.values())
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, layout="constrained")
for name, (values, seconds) in results.items():
    gap = values - best + 1e-7 * abs(best)
    axes[0].semilogy(gap, label=name)
    axes[1].semilogy(seconds, gap, label=name)
    print(
        f"{name:>24}: objective {values[-1]:.6g} after {ITERATIONS} iterations, "
        f"{seconds[-1]:.2f} s"
    )
axes[0].set_xlabel("iteration")
axes[1].set_xlabel("seconds")
axes[0].set_ylabel("objective - best")
axes[0].legend()
fig.suptitle("codes step: Dirichlet graph term")
fig.savefig(OUTPUT / "tutorial2_solvers.png", bbox_inches="tight")

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.plot(tv_values)
ax.set_xlabel("iteration")
ax.set_ylabel("objective")
ax.set_title("graph total variation (MLFBF)")
fig.savefig(OUTPUT / "tutorial2_total_variation.png", bbox_inches="tight")
print(
    f"total variation: objective {tv_values[0]:.6g} -> {tv_values[-1]:.6g}; "
    f"wrote {OUTPUT / 'tutorial2_solvers.png'}"
)
