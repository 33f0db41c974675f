"""The one way the app and the command line open a file someone else chose (a path, an upload).

A hostile file must neither make us read something else nor exhaust the machine, so before any byte is read:

- the path must be a regular file (never a device, FIFO or socket: ``/dev/zero`` would be read forever) outside
  ``/proc``, ``/sys`` and ``/dev``, not empty and under a size cap (``JETLAB_MAX_FILE_GB``, default 64);
- an HDF5 dataset must hold its bytes in this file: external storage (raw data in another file, e.g.
  ``/etc/passwd``), virtual datasets (data mapped from other files) and links (external or soft) are refused;
- the bytes a dataset declares must be stored (a file that declares N jets but stores none is not N zero jets),
  and no single chunk may decompress to more than ``MAX_CHUNK_BYTES``.

Errors name ``name`` (what the visitor calls the file, e.g. their upload's name), never a server path unless the
caller passes one.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from pathlib import Path
from typing import IO

import h5py
import numpy as np

from core.errors import JetInputError, fail

FORBIDDEN_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))
MAX_CHUNK_BYTES = 256 * 1024**2
NUMERIC_KINDS = "biuf"  # bool, int, unsigned, float: never complex, strings, objects, compounds


def max_file_bytes() -> int:
    """The size cap for any input file (``JETLAB_MAX_FILE_GB``, default 64 GiB: the full CMS file is 26 GB)."""
    try:
        return int(float(os.environ.get("JETLAB_MAX_FILE_GB", "64")) * 1024**3)
    except ValueError:
        return 64 * 1024**3


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def check_regular_file(path: str | os.PathLike, name: object = None) -> os.stat_result:
    """Refuse anything but a non-empty regular file under the size cap, outside /proc, /sys and /dev.

    Only ``os.stat`` is called: nothing is opened, so a FIFO cannot block and a device is never read.
    """
    name = path if name is None else name
    p = Path(path)
    try:
        real = p.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop
        raise fail(name, "cannot resolve the path (symlink loop?)") from None
    if any(real == root or root in real.parents for root in FORBIDDEN_ROOTS):
        raise fail(name, "is a system path (/proc, /sys, /dev), not a jet file")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise fail(name, "no such file") from None
    except OSError as err:
        raise fail(name, f"cannot be read ({err.strerror or err.__class__.__name__})") from None
    if not stat.S_ISREG(st.st_mode):
        raise fail(name, f"is {_kind(st.st_mode)}, not a jet file")
    if st.st_size == 0:
        raise fail(name, "file is empty")
    cap = max_file_bytes()
    if st.st_size > cap:
        raise fail(name, f"file is {st.st_size / 1024**3:.1f} GiB, over the {cap / 1024**3:.0f} GiB cap")
    return st


def check_directory(path: str | os.PathLike, name: object = None) -> Path:
    """A directory outside /proc, /sys and /dev (a checkpoint), resolved; one line naming it otherwise."""
    name = path if name is None else name
    try:
        real = Path(path).resolve(strict=False)
    except (OSError, RuntimeError):
        raise fail(name, "cannot resolve the path (symlink loop?)") from None
    if any(real == root or root in real.parents for root in FORBIDDEN_ROOTS):
        raise fail(name, "is a system path (/proc, /sys, /dev), not a checkpoint")
    return real


def open_regular(path: str | os.PathLike, name: object = None) -> IO[bytes]:
    """A binary file object for a checked regular file, re-checked on the open descriptor (no swap in between)."""
    before = check_regular_file(path, name)
    name = path if name is None else name
    try:
        fd = os.open(Path(path).resolve(), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise fail(name, f"cannot be read ({err.strerror or err.__class__.__name__})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise fail(name, "changed while being opened")
    return os.fdopen(fd, "rb")


def is_hdf5(path: str | os.PathLike) -> bool:
    """Whether a (checked) file starts with an HDF5 signature; reads at most a few KB."""
    with open(path, "rb") as f:
        head = f.read(8)
        if head == b"\x89HDF\r\n\x1a\n":
            return True
        offset = 512  # the signature may follow a user block of 512, 1024, 2048, ... bytes
        size = os.fstat(f.fileno()).st_size
        while offset + 8 <= size and offset <= 2**20:
            f.seek(offset)
            if f.read(8) == b"\x89HDF\r\n\x1a\n":
                return True
            offset *= 2
    return False


def is_zip(path: str | os.PathLike, name: object = None) -> bool:
    """``zipfile.is_zipfile`` on a checked regular file (on ``/dev/zero`` it would read forever)."""
    with open_regular(path, name) as f:
        return zipfile.is_zipfile(f)


def open_hdf5(path: str | os.PathLike, name: object = None) -> h5py.File:
    """Open a checked regular file read-only with HDF5's plain POSIX driver, refusing a swapped file."""
    name = path if name is None else name
    before = check_regular_file(path, name)
    real = Path(path).resolve()
    try:
        f = h5py.File(real, "r", driver="sec2", locking=False)
    except OSError as err:
        kind = "truncated or corrupt HDF5" if is_hdf5(real) else "not an HDF5 file"
        raise fail(name, f"{kind} ({err.__class__.__name__})") from None
    try:
        st = os.fstat(f.id.get_vfd_handle())
    except (OSError, ValueError, TypeError):
        st = None
    if st is None or (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
        f.close()
        raise fail(name, "changed while being opened")
    return f


def _link_kind(link: object) -> str:
    if isinstance(link, h5py.ExternalLink):
        return f"an external link to {link.filename!r}"
    if isinstance(link, h5py.SoftLink):
        return f"a soft link to {link.path!r}"
    return "a link of an unknown kind"


def dataset(f: h5py.File, key: str, name: object, required: bool = True) -> h5py.Dataset | None:
    """The dataset ``key`` of an open file, only if it is stored in place in this file (see module docstring)."""
    link = f.get(key, getlink=True)
    if link is None:
        if required:
            raise fail(name, f"missing key {key!r} (found {sorted(f.keys())})")
        return None
    if not isinstance(link, h5py.HardLink):
        raise fail(name, f"key {key!r} is {_link_kind(link)}; a jet file must hold its data itself")
    obj = f[key]
    if not isinstance(obj, h5py.Dataset):
        raise fail(name, f"key {key!r} is a {type(obj).__name__.lower()}, expected a dataset")
    check_storage(obj, key, name)
    return obj


def check_storage(ds: h5py.Dataset, key: str, name: object) -> None:
    """Refuse data kept outside the file, non-numeric data, missing bytes and oversized chunks."""
    if ds.is_virtual:
        raise fail(name, f"key {key!r} is a virtual dataset (data mapped from other files); refused")
    plist = ds.id.get_create_plist()
    if plist.get_external_count() > 0:
        raise fail(name, f"key {key!r} keeps its data in an external file; refused")
    if ds.dtype.kind not in NUMERIC_KINDS or ds.dtype.fields is not None:
        raise fail(name, f"key {key!r} has dtype {ds.dtype}, expected real numbers")
    nbytes = int(np.prod(ds.shape, dtype=np.float64)) * ds.dtype.itemsize if ds.shape else ds.dtype.itemsize
    if nbytes == 0:
        return
    layout = plist.get_layout()
    if layout == h5py.h5d.CONTIGUOUS:
        stored = ds.id.get_storage_size()
        if stored < nbytes:
            raise fail(name, f"key {key!r} declares shape {ds.shape} ({nbytes:,} bytes) but stores {stored:,}")
    elif layout == h5py.h5d.CHUNKED:
        chunk_bytes = int(np.prod(ds.chunks)) * ds.dtype.itemsize
        if chunk_bytes > MAX_CHUNK_BYTES:
            raise fail(name, f"key {key!r} has chunks of {chunk_bytes / 1024**2:.0f} MiB; at most 256 MiB allowed")
        expected = math.prod(math.ceil(s / c) for s, c in zip(ds.shape, ds.chunks, strict=True))
        try:
            stored = ds.id.get_num_chunks()
        except (OSError, RuntimeError) as err:
            raise fail(name, f"key {key!r}: corrupt chunk index ({err.__class__.__name__})") from None
        if stored < expected:
            raise fail(name, f"key {key!r} declares shape {ds.shape} but stores {stored} of its {expected} chunks")


def read_dataset(ds: h5py.Dataset, key: str, name: object) -> np.ndarray:
    """Read a whole (checked) dataset, naming the file and key when its bytes are corrupt."""
    try:
        return ds[()]
    except (OSError, ValueError, RuntimeError) as err:
        raise fail(name, f"cannot read {key!r}: truncated or corrupt ({err.__class__.__name__})") from None


def check_npz_members(archive: zipfile.ZipFile, name: object, limit: int) -> None:
    """Refuse an npz whose arrays would unpack to more than ``limit`` bytes (a zip bomb), before unpacking."""
    total = sum(info.file_size for info in archive.infolist())
    if total > limit:
        raise JetInputError(f"{name}: its arrays unpack to {total / 1024**3:.1f} GiB, over the memory available")
