r"""Reading files as data: nothing allocated or indexed before it is checked.

Every reader of the package goes through these checks before it allocates
or indexes anything a file declares (:mod:`pyunlocbox_gae.store` exports
them); :mod:`pyunlocbox_gae.safewrite` holds those of the writers.

* **Memory limit.** No array a file declares may take more than
  :func:`max_read_bytes` (this machine's physical memory, or the
  ``PYUNLOCBOX_GAE_MAX_READ_BYTES`` environment variable).
* **HDF5 as data.** :func:`check_h5_tree` refuses external links, external
  storage and virtual datasets (which read other files of the machine), and
  datasets that declare more bytes than the file holds.
* **Sparse matrices.** :func:`check_sparse` checks ``indptr`` (monotone,
  from 0 to nnz) and every index against the shape before any product can
  read out of bounds; :func:`load_npz` checks each array's declared size in
  a ``.npz`` file before reading it.

.. autosummary::
    max_read_bytes
    check_alloc
    check_h5_extent
    check_h5_tree
    check_sparse
    load_npz
"""

import os
import zipfile

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae.errors import (
    FileFormatError,
    GAEError,
    InputError,
    UnsafeFileError,
)

ENV_LIMIT = "PYUNLOCBOX_GAE_MAX_READ_BYTES"
MAX_H5_OBJECTS = 100_000


def max_read_bytes():
    """The most bytes one array declared by a file may take when read.

    This machine's physical memory, unless the environment variable
    ``PYUNLOCBOX_GAE_MAX_READ_BYTES`` sets another number.

    Examples
    --------
    >>> max_read_bytes() > 2**20
    True
    """
    value = os.environ.get(ENV_LIMIT)
    if value:
        try:
            return int(float(value))
        except ValueError:
            raise InputError(
                f"{ENV_LIMIT} must be a number of bytes, got {value!r}"
            ) from None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 2**36


def check_alloc(nbytes, what, source):
    """Refuse to allocate `nbytes` for `what` of file `source` above the limit.

    Examples
    --------
    >>> check_alloc(2**60, "dataset /x", "f.h5")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.FileFormatError: f.h5: dataset /x declares 1.07e+09 GiB...
    """
    limit = max_read_bytes()
    if nbytes > limit:
        raise FileFormatError(
            f"{source}: {what} declares {nbytes / 2**30:.3g} GiB, more than "
            f"the {limit / 2**30:.3g} GiB limit of this machine's memory; the "
            f"file is damaged or forged (raise {ENV_LIMIT} if it is genuine)"
        )


def _dataset_problem(dset, item):
    """What makes a dataset unsafe or impossible to read, or None."""
    import h5py

    if dset.is_virtual:
        return (
            UnsafeFileError,
            f"{item} is a virtual dataset (its data is in other files)",
        )
    if dset.external:
        files = ", ".join(str(e[0]) for e in dset.external)
        return UnsafeFileError, f"{item} keeps its data in other files ({files})"
    nbytes = int(np.prod(dset.shape, dtype=object)) * dset.dtype.itemsize
    limit = max_read_bytes()
    if nbytes > limit:
        return FileFormatError, (
            f"{item} declares shape {dset.shape} ({nbytes / 2**30:.3g} GiB), more "
            f"than the {limit / 2**30:.3g} GiB limit of this machine's memory"
        )
    plist = dset.id.get_create_plist()
    vlen = dset.dtype.kind == "O" or h5py.check_vlen_dtype(dset.dtype) is not None
    if plist.get_nfilters() == 0 and not vlen and nbytes > 0:
        stored = dset.id.get_storage_size()
        if stored < nbytes:
            return FileFormatError, (
                f"{item} declares shape {dset.shape} ({nbytes} bytes) but the file "
                f"holds {stored} bytes of it"
            )
    return None


def check_h5_tree(f, source):
    """Check every link and dataset of an open HDF5 file before it is read.

    Raises
    ------
    UnsafeFileError
        For an external link, external storage or a virtual dataset: the
        file would make the reader open other files of the machine.
    FileFormatError
        For a dataset that declares more bytes than the file holds or than
        the memory limit, or a file with more than 100,000 objects.
    """
    import h5py

    seen, stack, count = set(), [f], 0
    while stack:
        group = stack.pop()
        for name in group:
            count += 1
            if count > MAX_H5_OBJECTS:
                raise FileFormatError(
                    f"{source} holds more than {MAX_H5_OBJECTS} objects; it is "
                    "not a file of this package"
                )
            item = f"{group.name.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise UnsafeFileError(
                    f"{source}: {item} is a link to {link.path} in another file "
                    f"({link.filename}); refusing to read other files through it"
                )
            if isinstance(link, h5py.SoftLink):
                continue  # a path inside this file, checked where it leads
            obj = group.get(name)
            if obj is None or obj.id in seen:
                continue
            seen.add(obj.id)
            if isinstance(obj, h5py.Group):
                stack.append(obj)
            elif isinstance(obj, h5py.Dataset):
                problem = _dataset_problem(obj, item)
                if problem is not None:
                    kind, text = problem
                    raise kind(
                        f"{source}: {text}; refusing to read it (the file is "
                        "damaged or forged)"
                    )


def check_h5_extent(path):
    """Refuse an HDF5 file whose size is not the one its superblock records.

    A file written and closed by HDF5 ends exactly at the end-of-file
    address of its superblock. Bytes inserted shift every address after
    them, and some such files make the HDF5 library loop for ever, so they
    are refused before HDF5 reads them (HDF5 itself refuses a file shorter
    than that address as truncated). Files that do not start with an
    HDF5 signature are left to HDF5's own error.

    Examples
    --------
    >>> import h5py, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.h5")
    >>> h5py.File(path, "w").close()
    >>> check_h5_extent(path)
    >>> with open(path, "ab") as f:
    ...     _ = f.write(b"extra")
    >>> check_h5_extent(path)
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.FileFormatError: ...a.h5 has 805 bytes but its HDF5...
    """
    with open(path, "rb") as f:
        head = f.read(64)
    if len(head) < 16 or head[:8] != b"\x89HDF\r\n\x1a\n":
        return
    version = head[8]
    if version in (0, 1):
        size = head[13]
        start = (24 if version == 0 else 28) + 2 * size
    else:
        size = head[9]
        start = 12 + 2 * size
    if size not in (2, 4, 8) or len(head) < start + size:
        return
    eof = int.from_bytes(head[start : start + size], "little")
    actual = os.path.getsize(path)
    if actual > eof:  # a shorter file is reported by HDF5 as truncated
        raise FileFormatError(
            f"{path} has {actual} bytes but its HDF5 superblock records {eof}: "
            "bytes were added or the file is damaged; delete it and run the "
            "step that writes it again"
        )


def check_sparse(M, source, shape=None):
    """Check a sparse matrix read from a file; return it in CSR format.

    Every ``indptr`` is checked to be monotone from 0 to nnz and every index
    to lie within the shape (scipy's ``check_format(full_check=True)``):
    without this an index past the end makes the first product read or
    write out of bounds.

    Examples
    --------
    >>> bad = sp.csr_matrix((np.ones(1), np.array([7]), np.array([0, 1])), (1, 2))
    >>> check_sparse(bad, "g.npz")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.FileFormatError: g.npz: not a valid sparse matrix ...
    """
    try:
        if M.format in ("csr", "csc"):
            _check_compressed(M)
            M.check_format(full_check=True)
        elif M.format == "coo":
            rows, cols = M.shape
            if M.nnz and (
                M.row.min() < 0
                or M.col.min() < 0
                or M.row.max() >= rows
                or M.col.max() >= cols
            ):
                raise ValueError("row or column index out of bounds")
        else:
            M = M.tocsr()
            M.check_format(full_check=True)
        M = sp.csr_matrix(M)
    except (ValueError, TypeError, IndexError, OverflowError, AttributeError) as err:
        # AttributeError: an unpickled matrix that lacks one of its arrays
        raise FileFormatError(
            f"{source}: not a valid sparse matrix ({err}); the file is damaged "
            "or forged"
        ) from None
    if shape is not None and M.shape != tuple(shape):
        raise FileFormatError(
            f"{source}: the matrix has shape {M.shape}, expected {tuple(shape)}"
        )
    return M


def _check_compressed(M):
    """CSR/CSC parts that agree, checked whatever nnz claims.

    SciPy's own full check skips the index checks when ``indptr[-1]``
    (its nnz) is not positive, so a forged ``indptr`` ending in -1 passes
    it and later products write out of bounds.
    """
    indptr, indices = np.asarray(M.indptr), np.asarray(M.indices)
    minor = M.shape[1] if M.format == "csr" else M.shape[0]
    major = M.shape[0] if M.format == "csr" else M.shape[1]
    if indptr.ndim != 1 or len(indptr) != major + 1:
        raise ValueError(f"indptr has {len(indptr)} entries for {major} rows")
    if indptr[0] != 0 or indptr[-1] != len(indices) or len(M.data) != len(indices):
        raise ValueError("indptr must run from 0 to the number of stored values")
    if len(indptr) > 1 and np.diff(indptr).min() < 0:
        raise ValueError("indptr must be non-decreasing")
    if indices.size and (indices.min() < 0 or indices.max() >= minor):
        raise ValueError(f"indices must be in [0, {minor})")


def csr_from_parts(data, indices, indptr, shape, source):
    """Build a CSR matrix from arrays read from a file, checked first."""
    try:
        shape = tuple(int(s) for s in np.asarray(shape).ravel())
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"shape {shape} is not two sizes >= 0")
        if len(indptr) != shape[0] + 1:
            raise ValueError(f"indptr has {len(indptr)} entries for {shape[0]} rows")
        M = sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)
    except (ValueError, TypeError, OverflowError) as err:
        raise FileFormatError(
            f"{source}: not a valid sparse matrix ({err}); the file is damaged "
            "or forged"
        ) from None
    return check_sparse(M, source)


def load_npz(path):
    """Read a matrix saved by ``scipy.sparse.save_npz``, checked before use.

    Each array's declared size is checked against the memory limit and the
    size of its member in the archive before it is read; the matrix is then
    checked by :func:`check_sparse`.

    Examples
    --------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "g.npz")
    >>> sp.save_npz(path, sp.csr_matrix([[0, 1.0], [1.0, 0]]))
    >>> load_npz(path).nnz
    2
    """
    size = os.path.getsize(path)
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.compress_size > size:
                    raise ValueError(f"member {info.filename} is larger than the file")
                with z.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read(member)
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                check_alloc(nbytes, f"array {info.filename} {shape}", path)
                # Deflate expands data at most about 1032 times.
                if nbytes > info.file_size or info.file_size > 1100 * max(
                    info.compress_size, 1
                ):
                    raise ValueError(
                        f"array {info.filename} declares {nbytes} bytes, its "
                        f"member holds {info.file_size}"
                    )
        M = sp.load_npz(path)
    except (GAEError, FileNotFoundError, PermissionError):
        raise
    except Exception as err:  # zipfile, zlib and NumPy's parsers of the content
        raise FileFormatError(
            f"{path} is not a scipy sparse matrix saved by save_npz "
            f"({type(err).__name__}: {err})"
        ) from None
    return check_sparse(M, path)
