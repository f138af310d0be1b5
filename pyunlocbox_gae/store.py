r"""HDF5 files of the project: atomic writes, format markers and fingerprints.

Every file this package writes carries two root attributes, ``format``
(``"pyunlocbox_gae/<kind>"``) and ``format_version``, so that reading a
foreign or truncated file fails with a message that says what is wrong,
instead of a ``KeyError`` deep inside a loader. Files are written to a
temporary name in the same folder, synced to the disk and renamed into place
when complete, so a crash never leaves a half-written file under the final
name. Files are read as data: an HDF5 file that links to other files, or
declares arrays larger than this machine's memory or than the file itself,
is refused before anything is allocated (:mod:`pyunlocbox_gae.safeio`).

.. autosummary::
    atomic_path
    check_writable
    check_not_input
    folder_lock
    make_folder
    write_h5
    open_h5
    open_h5_data
    read_json_object
    fingerprint
"""

import contextlib
import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np

from pyunlocbox_gae.errors import (
    AccessError,
    FileFormatError,
    GAEError,
    InputError,
    MissingFileError,
)
from pyunlocbox_gae.safeio import (  # noqa: F401  (public through store)
    check_alloc,
    check_h5_extent,
    check_h5_tree,
    check_sparse,
    csr_from_parts,
    load_npz,
    max_read_bytes,
)
from pyunlocbox_gae.safewrite import (  # noqa: F401  (public through store)
    check_not_input,
    check_space,
    check_target,
    create_h5,
    disk_full,
    disk_full_error,
    folder_lock,
    fsync_path,
    make_folder,
)

FORMAT_PREFIX = "pyunlocbox_gae/"
FORMAT_VERSION = 1


def check_writable(path):
    """Check that a file can be written at `path`; return it as a Path.

    Long stages call it before they start, so that a missing or read-only
    output folder is reported at once, not after hours of computation.

    Raises
    ------
    FileNotFoundError
        If the folder of `path` does not exist.
    PermissionError
        If that folder is not writable.
    UnsafeFileError
        If `path` is a symbolic link, a device, a FIFO or a socket: writing
        would replace it or reach what it points to.

    Examples
    --------
    >>> check_writable("/no/such/folder/out.h5")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.MissingFileError: cannot write /no/such/folder/out.h5:...
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise MissingFileError(
            f"cannot write {path}: folder {parent} does not exist; create it first"
        )
    if not os.access(parent, os.W_OK):
        raise AccessError(
            f"cannot write {path}: folder {parent} is not writable; "
            "choose another output folder"
        )
    check_target(path)
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; rename it into place on success.

    The temporary file is removed if the block raises, so `path` is either
    the previous complete file or the new complete file, never a partial one.
    The new file is synced to the disk before the rename. A full disk raises
    :class:`~pyunlocbox_gae.errors.StorageError` and leaves the previous file
    under `path` as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (folder / "a.txt").read_text()
    'done'
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt']
    """
    path = check_writable(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # never write through a link planted at this name
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644))
    try:
        yield tmp
        fsync_path(tmp)
        check_target(path)
        os.replace(tmp, path)
        fsync_path(path.parent)
    except (OSError, RuntimeError) as err:  # h5py raises either
        if disk_full(err):
            raise disk_full_error(path) from None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@contextlib.contextmanager
def write_h5(path, kind, **attrs):
    """Open a new HDF5 file for writing, atomically, marked as `kind`.

    Parameters
    ----------
    path : str or Path
        Final file name. Nothing appears under it until the block succeeds.
    kind : str
        What the file holds (``"graph"``, ``"features"``, ``"model"``, ...).
    **attrs
        Root attributes to store (parameters of the run that made the file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.h5"
    >>> with write_h5(path, "example", alpha=0.5) as f:
    ...     _ = f.create_dataset("x", data=np.arange(3))
    >>> with open_h5(path, "example") as f:
    ...     float(f.attrs["alpha"]), f["x"][:].tolist()
    (0.5, [0, 1, 2])
    """
    with atomic_path(path) as tmp:
        # No chunk cache: a write that the disk refuses fails where it is
        # made, not later when a dataset object is freed (HDF5 cannot
        # recover from that and crashes the process at exit).
        f = create_h5(tmp)
        try:
            f.attrs["format"] = FORMAT_PREFIX + kind
            f.attrs["format_version"] = FORMAT_VERSION
            for key, value in attrs.items():
                f.attrs[key] = _attr(value)
            yield f
            f.flush()  # fails cleanly on a full disk, unlike close
            f.close()
        except BaseException:
            _abandon(f)
            raise


def _abandon(f):
    """Close a temporary HDF5 file that failed, e.g. on a full disk.

    Its content is thrown away, so it is emptied first: HDF5 can then write
    what it must on close instead of failing again.
    """
    with contextlib.suppress(Exception):
        if f.id.valid:
            os.ftruncate(f.id.get_vfd_handle(), 0)
    for _ in range(2):
        with contextlib.suppress(Exception):
            f.close()
            return


def _attr(value):
    """HDF5 cannot store None or dicts: store None as the string 'None'."""
    if value is None:
        return "None"
    return value


class MissingItemError(FileFormatError, KeyError):
    """A file marked as ours lacks a dataset or attribute that it must hold.

    A ValueError (a user's file is damaged or foreign), and a KeyError so that
    ``.get(name, default)`` and ``name in f`` keep working.
    """

    def __str__(self):
        return str(self.args[0])


class _Attrs(h5py.AttributeManager):
    def __getitem__(self, name):
        try:
            return super().__getitem__(name)
        except KeyError:
            raise MissingItemError(_missing(self._file, "attribute", name)) from None


class _Group(h5py.Group):
    """An h5py group whose missing items raise :class:`MissingItemError`."""

    def __getitem__(self, name):
        try:
            item = super().__getitem__(name)
        except KeyError:
            raise MissingItemError(_missing(self.file, "dataset", name)) from None
        return _Group(item.id) if isinstance(item, h5py.Group) else item

    @property
    def attrs(self):
        attrs = _Attrs(self)
        attrs._file = self.file
        return attrs


class _File(h5py.File, _Group):
    """An h5py file whose missing items raise :class:`MissingItemError`.

    Every loader then reports a file that claims to be ours but lacks what
    it needs with one clear message, instead of h5py's KeyError deep inside.
    An error that reading its content raises inside its ``with`` block (a
    damaged structure, a value of the wrong type) becomes a
    :class:`~pyunlocbox_gae.errors.FileFormatError` naming the file, with
    the original error as its cause.
    """

    @property
    def attrs(self):
        attrs = _Attrs(self)
        attrs._file = self
        return attrs

    def __exit__(self, kind, err, tb):
        name = self.filename if self.id.valid else "the file"
        super().__exit__(kind, err, tb)
        if _content_error(err):
            raise _damaged(name, err) from err
        return False


def _content_error(err):
    return isinstance(err, _CONTENT_ERRORS) and not isinstance(
        err, (GAEError, *_PATH_ERRORS)
    )


def _damaged(name, err):
    return FileFormatError(
        f"{name} is damaged or not what it claims ({type(err).__name__}: "
        f"{err}); delete it and run the step that writes it again"
    )


# What reading a damaged or forged file raises from h5py, NumPy or json;
# errors about the path itself keep their own type.
_CONTENT_ERRORS = (
    RuntimeError,
    OSError,
    KeyError,
    ValueError,
    TypeError,
    OverflowError,
    IndexError,
    AttributeError,
)
_PATH_ERRORS = (
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    FileExistsError,
)


def _missing(f, what, name):
    found = h5py.AttributeManager(f).get("format", "a pyunlocbox_gae file")
    if isinstance(found, bytes):
        found = found.decode()
    return (
        f"{f.filename} is marked as {found} but has no {what} {name!r}: it is "
        "damaged or was not written by pyunlocbox_gae; delete it and run the "
        "step that writes it again"
    )


def open_h5(path, kind, mode="r"):
    """Open a file written by :func:`write_h5` and check that it holds `kind`.

    Raises
    ------
    FileNotFoundError
        If `path` does not exist.
    ValueError
        If the file is not HDF5 (e.g. truncated), was not written by this
        package, or holds another kind of data. Reading a dataset or an
        attribute that the file lacks later raises :class:`MissingItemError`,
        a ValueError that says so.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "bad.h5"
    >>> _ = path.write_bytes(b"not hdf5")
    >>> open_h5(path, "graph")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: ...bad.h5 is not a readable HDF5 file...
    """
    if Path(path).is_file():
        check_h5_extent(path)  # a file of ours ends where HDF5 says it does
    f = open_h5_data(path, mode, cls=_File)
    try:
        _check_marker(f, path, kind)
    except BaseException as err:
        f.close()
        if _content_error(err):  # a damaged marker attribute
            raise _damaged(path, err) from err
        raise
    return f


def _check_marker(f, path, kind):
    found = f.attrs.get("format")
    if isinstance(found, bytes):
        found = found.decode()
    if found != FORMAT_PREFIX + kind:
        what = (
            "was not written by pyunlocbox_gae" if found is None else f"holds {found!r}"
        )
        raise InputError(f"{path} {what}, expected a {FORMAT_PREFIX + kind!r} file")
    version = int(f.attrs.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise InputError(
            f"{path} has format version {version}, newer than this "
            f"pyunlocbox_gae reads ({FORMAT_VERSION}); upgrade pyunlocbox_gae"
        )


def open_h5_data(path, mode="r", cls=h5py.File):
    """Open any HDF5 file as data: checked, before any read, to stay in itself.

    Links to other files, external storage, virtual datasets and datasets
    that declare more bytes than the file holds or than this machine's
    memory (:func:`~pyunlocbox_gae.safeio.max_read_bytes`) are refused with
    an error naming the item.

    Raises
    ------
    FileNotFoundError
        If `path` does not exist.
    ValueError
        If the file is not HDF5 or is refused
        (:class:`~pyunlocbox_gae.errors.UnsafeFileError` for what reaches
        other files).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with h5py.File(folder / "a.h5", "w") as f:
    ...     f["x"] = h5py.ExternalLink("/etc/passwd.h5", "/data")
    >>> open_h5_data(folder / "a.h5")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.UnsafeFileError: ...a.h5: /x is a link to /data in...
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path} does not exist")
    try:
        f = cls(path, mode)
    except OSError as err:
        raise InputError(
            f"{path} is not a readable HDF5 file (truncated or not HDF5): {err}; "
            "delete it and run the step that writes it again"
        ) from None
    try:
        check_h5_tree(f, path)
    except BaseException as err:
        f.close()
        if _content_error(err):  # a structure that h5py cannot walk
            raise _damaged(path, err) from err
        raise
    return f


def read_json_object(path):
    """The JSON object (a dict) stored in `path`, or None for anything else.

    For caches and earlier results: a file that is missing, unreadable, not
    JSON or holds another JSON value (a list, a number) means "recompute".

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "report.json"
    >>> _ = path.write_text("[1, 2]")
    >>> read_json_object(path) is None
    True
    """
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def settings_key(*parts, digest_size=16):
    """A short hash of JSON-able settings: the cache key of a stage's output.

    Keys are order-independent in dicts; values JSON cannot encode are
    hashed by their ``str``.

    Examples
    --------
    >>> settings_key({"a": 1, "b": 2}) == settings_key({"b": 2, "a": 1})
    True
    >>> len(settings_key("x")), len(settings_key("x", digest_size=10))
    (32, 20)
    """
    text = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.blake2b(text, digest_size=digest_size).hexdigest()


def fingerprint(X, block_rows=65536):
    """A short hash of an array's shape, dtype and values.

    Used to check that a stored graph, feature file or checkpoint belongs to
    the data it is used with. The data is hashed in row blocks so that a
    non-contiguous array is never copied whole.

    Examples
    --------
    >>> X = np.arange(6, dtype=np.float32).reshape(3, 2)
    >>> fingerprint(X) == fingerprint(X.copy())
    True
    >>> fingerprint(X) == fingerprint(X.astype(np.float64))
    False
    >>> len(fingerprint(X))
    32
    """
    X = np.asarray(X)
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((X.shape, X.dtype.str)).encode())
    if X.ndim == 0:
        h.update(X.tobytes())
    else:
        for start in range(0, X.shape[0], block_rows):
            block = np.ascontiguousarray(X[start : start + block_rows])
            h.update(memoryview(block).cast("B"))
    return h.hexdigest()
