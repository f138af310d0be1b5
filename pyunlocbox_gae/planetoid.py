"""Old name of :mod:`pyunlocbox_gae.embeddings.planetoid`."""

from pyunlocbox_gae._moved import alias

alias(
    __name__,
    "pyunlocbox_gae.embeddings.planetoid",
    ("_adam", "compare", "data", "io", "models"),
)
