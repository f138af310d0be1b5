r"""The demo's noise-robustness table on a GTZAN-layout folder (``gae demo --gtzan``).

The same experiment as :func:`~.demo.demo` (raw features / codes lg = 0 /
codes with the graph, at each noise level) with the audio folder as the
data set: CQT frames of every clip, clip vectors, linear SVM with
cross-validation grouped by clip. It is :func:`~.demo.demo` with
``dataset`` set to the folder; the CQT frames are computed once for all
cells and cached in ``OUTPUT/cache``.

.. autosummary::
    demo_gtzan
"""

from pathlib import Path

from pyunlocbox_gae.errors import InputError, MissingFileError
from pyunlocbox_gae.experiments.demo import NOISES, demo

# --quick: a few clips of three genres, short clips, a small dictionary.
QUICK_GTZAN = dict(
    genres=3,
    clips_per_genre=10,
    frames_per_clip=40,
    n_atoms=32,
    max_outer=5,
    n_splits=5,
    n_repeats=2,
)


def demo_gtzan(
    data,
    output,
    quick=False,
    noises=NOISES,
    lgs=(100.0,),
    config=None,
    progress=True,
):
    """Run the noise-robustness table on audio; write results.json/csv and a plot.

    Parameters
    ----------
    data : str or Path
        GTZAN-layout folder (one sub-folder per genre), or a folder of
        recordings with a ``labels.csv``.
    output : str or Path
        Folder of ``results.json``, ``results.csv``, ``demo.png`` and the
        stage ``cache/``.
    quick : bool
        Reduced size (:data:`QUICK_GTZAN`).
    noises, lgs
        As :func:`~.demo.demo`.
    config : dict, str or Path, optional
        Other configuration entries (:data:`~.settings.DEFAULTS`), or a TOML
        file of them (flat or in tables, :mod:`.config`); its ``dataset`` is
        replaced by `data`.

    Returns
    -------
    dict
        As :func:`~.demo.demo`.
    """
    from pyunlocbox_gae.experiments.config import flatten
    from pyunlocbox_gae.experiments.settings import read_toml

    data = Path(data)
    if not data.is_dir():
        raise MissingFileError(
            f"{data} is not a folder: --gtzan expects a GTZAN-layout folder "
            "(one sub-folder of audio files per genre)"
        )
    if config is not None and not isinstance(config, dict):
        config = flatten(read_toml(config))
    config = dict(QUICK_GTZAN if quick else {}, **(config or {}))
    config.pop("output", None)
    if config.get("dataset", str(data)) != str(data):
        raise InputError(
            f"--gtzan names the data set ({data}); drop dataset = "
            f"{config['dataset']!r} from --set and --config"
        )
    config["dataset"] = str(data)
    return demo(output, noises=noises, lgs=lgs, config=config, progress=progress)
