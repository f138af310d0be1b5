"""
Compose the objective by hand and minimise it with PyUNLocBoX
=============================================================

Every term of the structured auto-encoder is a PyUNLocBoX function object
(:mod:`pyunlocbox_gae.functions`), so PyUNLocBoX's own solvers minimise any
sum of them. Here we write the codes problem

    min_Z  ld/2 ||X - D Z||² + ls ||Z||_1 + lg/2 tr(Z L Zᵀ)

ourselves, solve it with :func:`pyunlocbox.solvers.solve` and its
forward-backward solver with FISTA acceleration, then take one dictionary
step, the other half of the alternating minimisation.
"""

import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from pyunlocbox import acceleration, solvers
from sklearn.datasets import load_digits

from pyunlocbox_gae import functions, graphs

OUTPUT = Path(
    sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GAE_TUTORIALS_OUTPUT", ".")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
SIZE = float(os.environ.get("GAE_TUTORIALS_SIZE", "1"))

# %%
# Data in the maths orientation: one column per sample. X is (n, N), the
# codes Z are (m, N), the dictionary D is (n, m) with unit-norm atoms.

digits = load_digits()
N = max(int(500 * SIZE), 50)
X_api = (digits.data[:N] / 16).astype(np.float32)  # (N, n), samples as rows
X = X_api.T  # (n, N): a view, no copy
n, m = X.shape[0], 32
rng = np.random.default_rng(0)
D = rng.standard_normal((n, m)).astype(np.float32)
D /= np.linalg.norm(D, axis=0)
Z = np.zeros((m, N), dtype=np.float32)

# %%
# The terms. The graph is a k-NN graph over the samples (the columns of X).

ld, ls, lg = 10.0, 1.0, 10.0
G = graphs.knn_graph(X_api, k=10)
data = functions.fidelity_z(X, D, lambda_=ld)
graph = functions.dirichlet(G, lambda_=lg)
sparsity = functions.sparsity(lambda_=ls)
smooth = functions.smooth_sum([data, graph])  # one smooth function: f + g

# %%
# Forward-backward needs a step below 1/β, β the Lipschitz constant of the
# gradient of the smooth part; every smooth term knows its own.

step = 1.0 / smooth.lipschitz()
solver = solvers.forward_backward(step=step, accel=acceleration.fista())
ret = solvers.solve(
    [sparsity, smooth],
    Z,
    solver,
    rtol=1e-6,
    maxit=int(300 * max(SIZE, 0.2)),
    verbosity="NONE",
    inplace=True,
)
objective = np.sum(ret["objective"], axis=1)
print(
    f"codes: {ret['niter']} iterations, stopped by {ret['crit']}, "
    f"objective {objective[-1]:.4g}, non-zeros {np.mean(Z != 0):.1%}"
)

# %%
# The dictionary step: data fidelity seen as a function of D, with every
# atom projected into the unit ball (a PyUNLocBoX projection).

data_d = functions.fidelity_d(X, Z, lambda_=ld)
ball = functions.proj_columns_b2()
data_d.prepare()  # cache Z Zᵀ and X Zᵀ: the step costs O(n m²) thereafter
ret_d = solvers.solve(
    [ball, data_d],
    D,
    solvers.forward_backward(step=1 / data_d.lipschitz()),
    rtol=1e-6,
    maxit=100,
    verbosity="NONE",
    inplace=True,
)
data_d.release()
print(
    f"dictionary: {ret_d['niter']} iterations, largest atom norm "
    f"{np.linalg.norm(D, axis=0).max():.4f}"
)

# %%
# The objective of the codes step, iteration by iteration (FISTA is not a
# descent method: small bumps are possible; this package's own
# :func:`pyunlocbox_gae.solvers.solve` restarts the momentum on them).

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.semilogy(objective - objective.min() + 1e-6 * objective.min())
ax.set_xlabel("iteration")
ax.set_ylabel("objective - final")
ax.set_title("codes step with pyunlocbox.solvers.solve")
fig.savefig(OUTPUT / "tutorial1_objective.png", bbox_inches="tight")
print(f"wrote {OUTPUT / 'tutorial1_objective.png'}")
