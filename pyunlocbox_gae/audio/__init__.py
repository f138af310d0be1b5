r"""Audio: GTZAN-layout folders, synthetic data, framing, CQT and frame files.

.. autosummary::
    gtzan
    synthetic
    cqt
    preprocess
"""

from pyunlocbox_gae.audio import cqt, gtzan, preprocess, synthetic  # noqa: F401
from pyunlocbox_gae.audio.cqt import CQTParams, clip_cqt  # noqa: F401
from pyunlocbox_gae.audio.gtzan import AudioFileError, find_clips, read_clip  # noqa: F401
from pyunlocbox_gae.audio.synthetic import make_dataset  # noqa: F401

__all__ = [
    "AudioFileError",
    "CQTParams",
    "clip_cqt",
    "cqt",
    "find_clips",
    "gtzan",
    "make_dataset",
    "preprocess",
    "read_clip",
    "synthetic",
]
