"""Old name of :mod:`pyunlocbox_gae.model.checkpoint`."""

from pyunlocbox_gae._moved import alias

alias(__name__, "pyunlocbox_gae.model.checkpoint")
