r"""Data sources of the experiments: digits, feature files and audio folders.

Every source gives the same thing, a :class:`Data`: one row per sample (a
digit, a row of a feature file, a CQT frame of an audio clip), a label per
row and, for audio, the clip of each row, so that the later stages (noise,
scaling, graph, codes, pooling, classifier) treat every source alike. The
configuration key ``dataset`` names the source:

* ``"digits"``: scikit-learn's handwritten digits (8×8 images, no download);
* a feature file: ``.csv`` (a header; a label column, by default ``label``;
  an optional group column, by default ``group``; every other column a
  number), ``.npy`` (a 2-D array; the labels in the file that the key
  ``labels`` names: ``.npy``, or text with one label a line) or HDF5
  (``.h5``/``.hdf5`` with datasets ``X``, ``y`` and optionally ``groups``);
* an audio folder: GTZAN layout (one sub-folder per class) or any folder
  with a ``labels.csv`` (``file,label[,group]``), turned into CQT frames
  (:func:`pyunlocbox_gae.audio.preprocess.preprocess`, cached).

.. autosummary::
    Data
    load_source
    prepare
    read_features
"""

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from pyunlocbox_gae import scaling as scaling_
from pyunlocbox_gae.errors import FileFormatError, InputError, MissingFileError

FEATURE_SUFFIXES = (".csv", ".npy", ".h5", ".hdf5")


@dataclasses.dataclass
class Data:
    """The rows of a data set, their labels and how they group.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features)
        Raw features (before scaling and noise, see :func:`prepare`).
    y : ndarray of int, shape (n_rows,)
        Label index of each row into `classes`.
    classes : list of str
    clips : ndarray of int, shape (n_rows,), or None
        The clip of each row (audio: a clip's frames); None when every row
        is a sample of its own.
    groups : ndarray of str, shape (n_rows,), or None
        The group of each row (a speaker), for group-held-out folds.
    info : dict
        What the source reports (files, skipped files, padding).
    """

    X: np.ndarray
    y: np.ndarray
    classes: list
    clips: np.ndarray | None = None
    groups: np.ndarray | None = None
    info: dict = dataclasses.field(default_factory=dict)


def kind_of(dataset):
    """``"digits"``, ``"features"`` or ``"audio"``: the kind of a dataset name.

    Examples
    --------
    >>> kind_of("digits"), kind_of("my/features.csv")
    ('digits', 'features')
    >>> kind_of("cats.txt")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: unknown dataset 'cats.txt': give 'digits', ...
    """
    if dataset == "digits":
        return "digits"
    path = Path(str(dataset))
    if path.suffix.lower() in FEATURE_SUFFIXES:
        return "features"
    if path.is_dir():
        return "audio"
    if not path.suffix and not path.exists():
        raise MissingFileError(
            f"dataset {dataset!r} does not exist: give 'digits', a feature file "
            "or an existing audio folder (the data folder of the config)"
        )
    raise InputError(
        f"unknown dataset {dataset!r}: give 'digits', a feature file "
        f"({', '.join(FEATURE_SUFFIXES)}) or an audio folder (GTZAN layout or "
        "with a labels.csv)"
    )


def kind_of_path(name):
    """``"features"`` for a feature file's name, else None (no error)."""
    suffix = Path(str(name)).suffix.lower()
    return "features" if suffix in FEATURE_SUFFIXES else None


def _encode(labels, where):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise FileFormatError(f"{where}: labels must be one column")
    classes, y = np.unique(labels.astype(str), return_inverse=True)
    if len(classes) < 2:
        raise InputError(f"{where} has {len(classes)} class(es); give at least two")
    return y, [str(c) for c in classes]


def _read_csv(path, label_column, group_column):
    import csv

    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = [row for row in reader if row]
    if not header or label_column not in header:
        raise InputError(
            f"{path} has no label column {label_column!r} (header: "
            f"{', '.join((header or [])[:8])}...); set label_column"
        )
    table = np.array(rows, dtype=object) if rows else np.empty((0, len(header)))
    if table.ndim != 2 or table.shape[1] != len(header):
        raise FileFormatError(f"{path}: every row needs {len(header)} fields")
    labels = table[:, header.index(label_column)].astype(str)
    groups = None
    if group_column and group_column in header:
        groups = table[:, header.index(group_column)].astype(str)
    keep = [
        i for i, name in enumerate(header) if name not in (label_column, group_column)
    ]
    try:
        X = table[:, keep].astype(np.float64)
    except ValueError:
        raise InputError(
            f"{path}: the feature columns must be numbers; name a text column "
            "as label_column or group_column, or drop it"
        ) from None
    return X, labels, groups


def _read_labels(path):
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"labels file {path} does not exist")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    return np.array(path.read_text().split())


def _read_h5(path):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            X, y = f["X"][...], f["y"][...]
            groups = f["groups"][...] if "groups" in f else None
    except KeyError:
        raise FileFormatError(
            f"{path} needs datasets 'X' (rows × features) and 'y' (labels)"
        ) from None
    except OSError as err:
        raise FileFormatError(f"{path} is not a readable HDF5 file: {err}") from None
    if y.dtype.kind == "O" or y.dtype.kind == "S":
        y = y.astype(str)
    if groups is not None:
        groups = groups.astype(str)
    return X, y, groups


def read_features(path, labels=None, label_column="label", group_column="group"):
    """A feature file as a :class:`Data` (no scaling, no noise).

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.npy`` or ``.h5`` / ``.hdf5`` (see the module's text).
    labels : str or Path, optional
        The labels of a ``.npy`` file.
    label_column, group_column : str
        Columns of a CSV; the group column is optional.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> _ = path.write_text("a,b,label,group\\n1,2,x,s1\\n3,4,y,s2\\n5,6,x,s2\\n")
    >>> data = read_features(path)
    >>> data.X.tolist(), data.y.tolist(), data.classes, data.groups.tolist()
    ([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [0, 1, 0], ['x', 'y'], ['s1', 's2', 's2'])
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"feature file {path} does not exist")
    suffix = path.suffix.lower()
    groups = None
    if suffix == ".csv":
        X, raw, groups = _read_csv(path, label_column, group_column)
    elif suffix == ".npy":
        if labels is None:
            raise InputError(
                f"{path} holds no labels: set labels = a .npy or text file of "
                "one label per row"
            )
        try:
            X = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise FileFormatError(f"{path} is not a numeric .npy: {err}") from None
        raw = _read_labels(labels)
    elif suffix in (".h5", ".hdf5"):
        X, raw, groups = _read_h5(path)
    else:
        raise InputError(f"{path}: feature files are {', '.join(FEATURE_SUFFIXES)}")
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype.kind not in "fiu":
        raise FileFormatError(f"{path}: features must be a 2-D numeric table")
    if len(raw) != len(X):
        raise InputError(f"{path}: {len(X)} rows but {len(raw)} labels")
    if not np.all(np.isfinite(X)):
        raise InputError(f"{path} holds NaN or infinite features; fill or drop them")
    y, classes = _encode(raw, path)
    return Data(X, y, classes, groups=groups, info=dict(source=str(path)))


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return Data(X, np.asarray(y), [str(c) for c in range(10)], info={})


def _tqdm_write(message):
    from tqdm.auto import tqdm

    tqdm.write(message)


def _audio(folder, config, cache_folder, progress):
    from pyunlocbox_gae import store
    from pyunlocbox_gae.audio.clips import clip_rows
    from pyunlocbox_gae.experiments.settings import AUDIO_DEFAULTS, cqt_params

    genres = config["genres"]
    key = store.settings_key(str(folder), {k: config[k] for k in AUDIO_DEFAULTS})
    with tempfile.TemporaryDirectory() as tmp:
        out = clip_rows(
            folder,
            Path(cache_folder or tmp) / f"frames-{key[:20]}.h5",
            cqt_params(config),
            genres=None if genres == "all" else genres,
            clips_per_genre=config["clips_per_genre"] or None,
            short=config["short_clips"],
            resample=config["resample"],
            on_error=config["on_error"],
            progress=progress,
            log=_tqdm_write if progress else None,  # "resuming ...", beside the bars
        )
    clips = out["clips"]
    groups = out["groups"]
    return Data(
        out["rows"],
        out["labels"][clips],
        list(out["genres"]),
        clips=clips,
        groups=None if groups is None else groups[clips],
        info=dict(
            source=str(folder),
            clip_ids=out["clip_ids"],
            skipped=out["skipped"],
            padded=out["padded"],
        ),
    )


def _subset(data, n, seed):
    """A stratified subset of `n` rows (row sources only)."""
    from sklearn.model_selection import train_test_split

    if not 20 <= n <= len(data.y):
        raise InputError(
            f"n_samples must be between 20 and {len(data.y)}, got {n}; "
            "use None for the whole data set"
        )
    if n == len(data.y):
        return data
    index = np.arange(len(data.y))
    keep, _ = train_test_split(index, train_size=n, stratify=data.y, random_state=seed)
    return dataclasses.replace(
        data,
        X=data.X[keep],
        y=data.y[keep],
        groups=None if data.groups is None else data.groups[keep],
    )


def load_source(config, cache_folder=None, progress=False):
    """The raw :class:`Data` of a configuration's ``dataset``.

    Parameters
    ----------
    config : dict
        A full configuration (:func:`~.settings.make_config`): ``dataset``,
        ``n_samples`` (a stratified subset of a row source), ``labels``,
        ``label_column``, ``group_column`` and, for audio, the CQT keys.
    cache_folder : str or Path, optional
        Where an audio source keeps its CQT frames (``frames.h5``).
    progress : bool
        Show the CQT's progress bar.

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> data = load_source(make_config(n_samples=100))
    >>> data.X.shape, data.clips is None, len(data.classes)
    ((100, 64), True, 10)
    """
    kind = kind_of(config["dataset"])
    if kind == "audio":
        return _audio(config["dataset"], config, cache_folder, progress)
    if kind == "digits":
        data = _digits()
    else:
        data = read_features(
            config["dataset"],
            config["labels"],
            config["label_column"],
            config["group_column"],
        )
    if config["n_samples"] is not None:
        data = _subset(data, config["n_samples"], config["noise_seed"])
    return data


def prepare(X, scaling="minmax", noise=0.0, seed=0, log=False):
    """Scale every feature, then add Gaussian noise: the same for every source.

    Parameters
    ----------
    X : array of shape (n_rows, n_features)
        Not modified.
    log : bool
        First compress every value as :math:`\\log(1 + x)` (CQT
        magnitudes; values must be > -1).
    scaling : {'minmax', 'standard', 'none'}
        Per feature to [0, 1], to zero mean and unit variance, or none
        (label-free, over all rows, as the study's transductive setting).
    noise : float
        Standard deviation of the noise added after scaling.
    seed : int
        Seed of the noise.

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> X = prepare(np.array([[0.0, 2.0], [1.0, 4.0]]))
    >>> X.tolist(), X.dtype
    ([[0.0, 0.0], [1.0, 1.0]], dtype('float32'))
    """
    scaling_.check_scaling(scaling, noise)
    X = np.asarray(X)
    # A copy in the data's float type (float64 for integers), scaled in place,
    # then float32: one copy of float32 rows.
    X = np.array(X, dtype=np.result_type(X.dtype, np.float32))
    X = np.asarray(scaling_.scale_features(X, log, scaling), np.float32)
    scaling_.add_noise(X, float(noise), seed)
    return X
