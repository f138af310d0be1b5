"""Old name of :mod:`pyunlocbox_gae.embeddings.deepwalk`."""

from pyunlocbox_gae._moved import alias

alias(__name__, "pyunlocbox_gae.embeddings.deepwalk")
