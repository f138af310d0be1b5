"""Old name of :mod:`pyunlocbox_gae.experiments.pipeline`."""

from pyunlocbox_gae._moved import alias

alias(__name__, "pyunlocbox_gae.experiments.pipeline")
