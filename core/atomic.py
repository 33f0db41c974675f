"""Write files and whole directories under a temporary name, fsync, and rename when whole: no reader (and no
kill at any instant) ever sees half a file, or a directory mixing two versions.

- :func:`atomic_path`: one file; the temporary is created with mode 0o666 filtered by the umask (as ``open``
  would), without ever changing the process umask (which is shared by every thread).
- :func:`atomic_directory`: a set of files (a checkpoint) written into a temporary sibling directory, then put in
  place by one atomic exchange (Linux ``renameat2(RENAME_EXCHANGE)``), so the previous set stays whole until the
  new one is; files of the old directory outside the new set are carried over.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

TMP_MARK = ".tmp-"
OLD_MARK = ".old-"


def current_umask() -> int:
    """The process umask, read from /proc (never by setting it: ``os.umask`` changes it for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file's or a directory's data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temporary(target: Path, suffix: str) -> Path:
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}{suffix or '.tmp'}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies, as for open()
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target))  # pragma: no cover


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", sync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it, rename it over ``path`` and fsync the folder.

    On error the temporary is deleted and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(target, suffix)
    try:
        yield tmp
        if sync:
            fsync_path(tmp)
        os.replace(tmp, target)
        if sync:
            fsync_path(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a small text file (a JSON model card, a config) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


# ---------------------------------------------------------------- whole directories

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux >= 3.15, glibc >= 2.28); False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # old kernel or a file system without exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _carry_over(old: Path, new: Path, owned: frozenset[str]) -> None:
    """Hard-link (or copy) into ``new`` what ``old`` holds beyond the set: notes, reports, samples (never a file
    of the set itself, e.g. the raw weights an inference-only set leaves out)."""
    for entry in old.iterdir():
        dest = new / entry.name
        if dest.exists() or entry.name.startswith(".") or entry.name in owned:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dest, symlinks=True)
            continue
        try:
            os.link(entry, dest, follow_symlinks=False)
        except OSError:
            shutil.copy2(entry, dest, follow_symlinks=False)


def clean_leftovers(target: Path) -> None:
    """Remove temporary or old sibling directories of ``target`` left by a killed writer."""
    parent = target.parent
    if not parent.is_dir():
        return
    for mark in (TMP_MARK, OLD_MARK):
        for entry in parent.glob(f".{target.name}{mark}*"):
            shutil.rmtree(entry, ignore_errors=True)


def recover_directory(path: str | os.PathLike) -> None:
    """After a kill between the two renames of the fallback (no exchange): put the old set back in place."""
    target = Path(path)
    if target.exists():
        return
    olds = sorted(target.parent.glob(f".{target.name}{OLD_MARK}*"), key=lambda p: p.stat().st_mtime)
    if olds:
        os.replace(olds[-1], target)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, owned: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path``; when the block ends, fsync its files and put it in
    place of ``path`` as a whole. Other files of the previous ``path`` are carried over, except the names in
    ``owned`` (the set's own files). On error nothing changes.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(target)
    clean_leftovers(target)
    tmp = target.parent / f".{target.name}{TMP_MARK}{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        yield tmp
        mode = 0o666 & ~current_umask()  # as open() would make them (some writers use 0o600)
        for entry in tmp.iterdir():
            if entry.is_file() and not entry.is_symlink():
                os.chmod(entry, mode)
                fsync_path(entry)
        if target.is_dir():
            _carry_over(target, tmp, frozenset(owned))
        fsync_path(tmp)
        _install(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _install(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.rename(tmp, target)
    elif _renameat2_exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous set
    else:  # two renames; a kill in between is undone by recover_directory
        old = target.parent / f".{target.name}{OLD_MARK}{secrets.token_hex(4)}"
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    fsync_path(target.parent)
