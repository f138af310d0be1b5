"""
The model: data and a graph in, dictionary, encoder and codes out.

* :mod:`~pyunlocbox_gae.model.estimator`: :class:`GraphAutoEncoder`, the
  scikit-learn transformer, and the alternating loop it runs.
* :mod:`~pyunlocbox_gae.model.lg_auto`: ``lg='auto'``, the graph weight
  chosen from the noise of the data.
* :mod:`~pyunlocbox_gae.model.checkpoint`: resumable fits.
* :mod:`~pyunlocbox_gae.model.distributed`: the same fit with the codes step
  on a Dask cluster.
"""
