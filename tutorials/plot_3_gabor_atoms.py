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
# Grey-level patches, each with its mean removed: the atoms should model
# edges and textures, not brightness. One global scale keeps the contrast
# between patches.

n_patches = max(int(6000 * SIZE), 500)
patches = []
for image in load_sample_images().images:
    grey = image.astype(np.float32).mean(axis=2) / 255
    patches.append(
        extract_patches_2d(grey, (8, 8), max_patches=n_patches // 2, random_state=0)
    )
X = np.concatenate(patches).reshape(-1, 64)
X -= X.mean(axis=1, keepdims=True)
X /= X.std()
print(f"{X.shape[0]} patches of 8x8 pixels")

# %%
# A dictionary of 64 atoms (complete), atoms initialised from random
# patches. The codes must be sparse for the atoms to localise: with unit-
# variance patches, ls/ld = 0.8 leaves about one code in ten non-zero (at
# ls/ld = 0.1 a third are, and the atoms stay noisy mixtures).

model = GraphAutoEncoder(
    n_atoms=64,
    ld=10.0,
    ls=8.0,
    dict_init="samples",
    max_outer=max(int(30 * SIZE), 3),
    random_state=0,
)
Z = model.fit_transform(X)
print(f"{model.n_iter_} outer iterations, {np.mean(Z != 0):.1%} non-zero codes")

# %%
# The atoms, sorted by how often they are used: the most used are oriented
# edges and gratings; the least used keep some of their random start.

order = np.argsort(-(Z != 0).sum(axis=0))
fig = plotting.plot_atoms(
    model.components_[order],
    shape=(8, 8),
    title="atoms learned from photograph patches",
)
fig.savefig(OUTPUT / "tutorial3_atoms.png", bbox_inches="tight")
print(f"wrote {OUTPUT / 'tutorial3_atoms.png'}")
