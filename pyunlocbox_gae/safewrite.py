r"""Writing only what the user named, durably, one run at a time.

Every writer of the package goes through these checks before it replaces a
file (:mod:`pyunlocbox_gae.store` exports them): :func:`check_target`
refuses to replace a symbolic link, a device, a FIFO or a socket;
:func:`check_not_input` refuses an output that is one of the command's
inputs; :func:`folder_lock` keeps two runs out of one output folder;
:func:`check_space` and :func:`disk_full_error` turn a full disk into one
clear error.

.. autosummary::
    check_target
    check_not_input
    folder_lock
    make_folder
    check_space
    fsync_path
    disk_full
    disk_full_error
    create_h5
"""

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path

import h5py

from pyunlocbox_gae.errors import BusyError, InputError, StorageError, UnsafeFileError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None


_KINDS = (
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISSOCK, "socket"),
)


def check_target(path):
    """Refuse to replace `path` unless it is a regular file or absent.

    Examples
    --------
    >>> check_target("/dev/null")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.UnsafeFileError: /dev/null is a character device, ...
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFileError(
            f"{path} is a symbolic link; refusing to replace it or write through "
            "it: name the file it points to, or remove the link"
        )
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path} is a folder; name a file to write")
    for test, kind in _KINDS:
        if test(st.st_mode):
            raise UnsafeFileError(
                f"{path} is a {kind}, not a regular file; refusing to replace "
                "it: name a regular file to write"
            )


def check_not_input(output, *inputs):
    """Refuse an output that is one of the inputs (same path or same inode).

    Examples
    --------
    >>> check_not_input("a/../X.npy", "X.npy", None)
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: the output a/../X.npy is the input X.npy...
    """
    out = os.path.realpath(output)
    try:
        out_id = os.stat(output)[1:3]
    except OSError:
        out_id = None
    for given in inputs:
        if given is None:
            continue
        same = os.path.realpath(given) == out
        if not same and out_id is not None:
            with contextlib.suppress(OSError):
                same = os.stat(given)[1:3] == out_id
        if same:
            raise InputError(
                f"the output {output} is the input {given}: writing it would "
                "destroy the input; choose another output file"
            )


_HELD = {}


@contextlib.contextmanager
def folder_lock(folder):
    """Hold an exclusive lock on an output folder for the block.

    A second process that asks for the same folder gets
    :class:`~pyunlocbox_gae.errors.BusyError` at once; the same process may
    nest locks on one folder.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with folder_lock(folder):
    ...     with folder_lock(folder):
    ...         print(os.listdir(folder))
    ['.gae.lock']
    >>> os.listdir(folder)  # the lock file goes with the lock
    []
    """
    folder = Path(folder)
    key = os.path.realpath(folder)
    if key in _HELD or fcntl is None:
        _HELD[key] = _HELD.get(key, 0) + 1
        try:
            yield
        finally:
            _HELD[key] -= 1
            if not _HELD[key]:
                del _HELD[key]
        return
    lock = folder / ".gae.lock"
    fd = _acquire(lock, folder)
    _HELD[key] = 1
    try:
        yield
    finally:
        del _HELD[key]
        # Removed while still held; a process that opened the old file in
        # the meantime sees that it is gone and opens the new one.
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)  # releases the lock


def _acquire(lock, folder):
    """An open descriptor of `lock`, exclusively locked, or BusyError."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BusyError(
                f"another run is using {folder} (it holds {lock}); wait for it "
                "to finish or choose another output"
            ) from None
        try:
            same = os.stat(lock, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed it as we locked it: try again


def make_folder(path):
    """Create an output folder (and its parents); refuse a file at `path`.

    Examples
    --------
    >>> import tempfile
    >>> make_folder(os.path.join(tempfile.mkdtemp(), "a", "b")).is_dir()
    True
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(
            f"{path} is a file, not a folder; give a folder for the outputs"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def fsync_path(path):
    """Flush a file or a folder to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:  # some file systems cannot sync a folder
        if err.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def disk_full(err):
    """Whether an OSError (h5py's included) says the disk or quota is full.

    Examples
    --------
    >>> disk_full(OSError(errno.ENOSPC, "No space left on device"))
    True
    >>> disk_full(OSError(errno.ENOENT, "No such file"))
    False
    """
    codes = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    text = str(err)
    return getattr(err, "errno", None) in codes or any(
        f"errno = {code}," in text or os.strerror(code) in text for code in codes
    )


def check_space(folder, nbytes, what):
    """Refuse to start writing `nbytes` to `folder` when the disk lacks them.

    Examples
    --------
    >>> check_space(".", 2**70, "the frames")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.StorageError: the frames need 1.1e+12 GiB on the disk of ...
    """
    free = shutil.disk_usage(folder).free
    if nbytes > free:
        raise StorageError(
            f"{what} need {_size(nbytes)} on the disk of {folder}, which has "
            f"{_size(free)} free; free space or choose another output folder"
        )


def _size(nbytes):
    """Bytes in the unit that reads best: '1.5 GiB', '300 KiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes} bytes"


def disk_full_error(path):
    """The one-line error for a full disk while writing `path`."""
    folder = Path(path).parent
    return StorageError(
        f"no space left on the disk of {folder} while writing {Path(path).name}; "
        "earlier files are intact: free space or choose another output folder, "
        "then run again"
    )


def create_h5(path):
    """A new HDF5 file whose metadata HDF5 checks on every read.

    The file format of HDF5 1.10 and later gives every metadata block a
    checksum that HDF5 verifies on read; attributes are kept in the root's
    object header (covered by its checksum) rather than in a separate heap
    that is not. A damaged header is then an error, not an endless loop of
    the library or a wrong value. No chunk cache: a write that the disk
    refuses fails where it is made.
    """
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_LATEST)
    mdc, slots, _, w0 = fapl.get_cache()
    fapl.set_cache(mdc, slots, 0, w0)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_attr_phase_change(65535, 0)
    fcpl.set_obj_track_times(False)  # same content, same bytes
    fid = h5py.h5f.create(
        os.fsencode(str(path)), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl
    )
    return h5py.File(fid)
