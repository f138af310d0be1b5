"""
Gabor-like atoms from patches of photographs
============================================

Sparse coding of natural image patches learns oriented, localised atoms
that look like Gabor filters (Olshausen & Field, 1996). We learn a
dictionary from 8×8 patches of the two photographs that ship with
scikit-learn (:func:`sklearn.datasets.load_sample_images`), without graph,
and show the atoms.
"""

import os
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.datasets import load_sample_images
from sklearn.feature_extraction.image import extract_patches_2d

from pyunlocbox_gae import GraphAutoEncoder
from pyunlocbox_gae.experiments import plotting

OUTPUT = Path(
    sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GAE_TUTORIALS_OUTPUT", ".")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
SIZE = float(os.environ.get("GAE_TUTORIALS_SIZE", "1"))

# %%
# Grey-level patches. Three choices make the atoms clean edges rather than
# noise:
#
# * a slight blur of the photographs (Gaussian, 1 pixel) removes the pixel
#   and compression noise, which sparse coding would otherwise spend atoms
#   on;
# * of twice as many random patches we keep the half with the most
#   contrast: flat patches (sky, walls) carry no edge to learn from;
# * each patch has its mean removed and is scaled to unit variance, so that
#   the atoms model the shape of edges, not brightness or contrast.

n_patches = max(int(6000 * SIZE), 500)
patches = []
for image in load_sample_images().images:
    grey = gaussian_filter(image.astype(np.float32).mean(axis=2) / 255, 1.0)
    patches.append(
        extract_patches_2d(grey, (8, 8), max_patches=n_patches, random_state=0)
    )
X = np.concatenate(patches).reshape(-1, 64)
X -= X.mean(axis=1, keepdims=True)
contrast = X.std(axis=1)
X = X[contrast >= np.median(contrast)]
X /= X.std(axis=1, keepdims=True)
print(f"{X.shape[0]} patches of 8x8 pixels")

# %%
# A dictionary of 36 atoms, initialised from random patches. The codes must
# be sparse for the atoms to localise: with unit-variance patches,
# ls/ld = 1.2 leaves about one code in six non-zero (at ls/ld = 0.1 a third
# are, and the atoms stay mixtures). Fewer atoms than pixels means each atom
# is used often, so that even a short fit turns every one into an edge.

model = GraphAutoEncoder(
    n_atoms=36,
    ld=10.0,
    ls=12.0,
    dict_init="samples",
    max_outer=max(int(50 * SIZE), 3),
    random_state=0,
)
Z = model.fit_transform(X.astype(np.float32))
print(f"{model.n_iter_} outer iterations, {np.mean(Z != 0):.1%} non-zero codes")

# %%
# The atoms, sorted by how often they are used (each scaled to its own
# largest value; red positive, blue negative): oriented edges and bars at
# every angle, then gratings; the least used are finer checkerboards.

order = np.argsort(-(Z != 0).sum(axis=0))
fig = plotting.plot_atoms(
    model.components_[order],
    shape=(8, 8),
    title="atoms learned from photograph patches",
)
fig.savefig(OUTPUT / "tutorial3_atoms.png", bbox_inches="tight")
print(f"wrote {OUTPUT / 'tutorial3_atoms.png'}")
