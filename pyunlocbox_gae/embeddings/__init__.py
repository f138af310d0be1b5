"""
Graph embeddings: a graph's structure as features.

* :mod:`~pyunlocbox_gae.embeddings.walks`: weighted random walks.
* :mod:`~pyunlocbox_gae.embeddings.deepwalk`: DeepWalk (walks + SkipGram).
* :mod:`~pyunlocbox_gae.embeddings.planetoid`: Planetoid-T / -I and baselines.
"""
