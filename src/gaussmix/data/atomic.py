"""Writing output files so that nothing is ever half-written or destroyed.

One rule for every output of gaussmix (:func:`atomic_path`, used by the model
file writer, the command line and the lab):

- a target that does not exist, or is a regular file, is written to a temporary
  file in the same folder, flushed to disk and renamed onto the target, so a
  failure leaves the old file or the new one, never a mix;
- a symbolic link is followed: the file it points to is replaced, the link stays;
- an existing character device or FIFO (``/dev/null``, a named pipe), or an open
  file descriptor (``/dev/stdout``, ``/dev/fd/3``), is what the user asked for:
  it is written directly, never replaced;
- a folder, a socket or a block device is refused.

:func:`check_output_file` runs the same checks before any work, and also refuses
an output that is one of the command's inputs (:func:`same_file`).

A folder of outputs (the lab's) is built whole in a private folder beside its
target and swapped in at the end (:func:`atomic_folder`): readers see the
previous folder or the new one, never a mix, and an interrupted run leaves the
previous folder as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

# What an output target is, by what is at its path now.
NEW, REGULAR, STREAM = "new", "regular", "stream"


def output_target(path) -> tuple[Path, str]:
    """Where an output to ``path`` goes, and how it is written.

    Parameters
    ----------
    path : str or os.PathLike
        The output the user named.

    Returns
    -------
    target : pathlib.Path
        ``path`` with symbolic links resolved (the file that is written); for a
        stream, ``path`` as given.
    kind : {'new', 'regular', 'stream'}
        Nothing there yet, a regular file (both replaced by a rename), or a
        character device, a FIFO or an open file descriptor of this process
        (``/dev/stdout``, ``/dev/fd/3``), written directly.

    Raises
    ------
    IsADirectoryError
        When ``path`` is a folder.
    OSError
        When ``path`` is a socket or a block device (``errno.EINVAL``), naming it.
    """
    if _through_descriptor(path):
        # /dev/stdout and the like: what the descriptor is open on, whatever it is.
        _refuse_unwritable_kind(os.stat(path).st_mode, path)
        return Path(path), STREAM
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target, NEW
    except NotADirectoryError:
        # A file stands where a folder of the path should be: the write says so.
        return target, NEW
    _refuse_unwritable_kind(mode, path)
    return target, REGULAR if stat.S_ISREG(mode) else STREAM


def _refuse_unwritable_kind(mode: int, path) -> None:
    if stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            errno.EISDIR, "is a folder: give the name of a file to write", os.fspath(path)
        )
    kind = "a socket" if stat.S_ISSOCK(mode) else "a block device (a disk)"
    raise OSError(errno.EINVAL, f"is {kind}, not a file: give a file name", os.fspath(path))


_DESCRIPTOR_FOLDER = re.compile(r"/proc/(?:self|\d+)(?:/task/\d+)?/fd|/dev/fd")


def _through_descriptor(path) -> bool:
    """Whether ``path``, or a link on its way, names an open file descriptor (/proc, /dev/fd)."""
    current = os.path.abspath(path)
    for _ in range(40):  # as many links as the kernel follows
        if _DESCRIPTOR_FOLDER.fullmatch(os.path.realpath(os.path.dirname(current))):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return False


@contextmanager
def atomic_path(path):
    """Yield where to write the content of ``path``; put it in place on success.

    For a new or regular file the yielded path is a temporary file next to the
    target: on success it is flushed to disk and renamed onto the target (which
    keeps the permissions of the file it replaces), then the folder is flushed,
    so a crash leaves either the old file or the new one. On any error the
    temporary file is removed, the target is left as it was, and an ``OSError``
    names ``path``, not the temporary name. A symbolic link is followed (the
    file it points to is replaced, the link stays). A character device or FIFO
    is yielded itself, to be written directly. A folder, a socket or a block
    device is refused (see :func:`output_target`).

    Parameters
    ----------
    path : str or os.PathLike
        The file to produce.

    Yields
    ------
    pathlib.Path
        Where to write the content (a new file is created empty, with the
        permissions the umask gives any new file).
    """
    target, kind = output_target(path)
    if kind == STREAM:
        try:
            yield target
        except OSError as exc:
            raise _naming(exc, path) from exc
        return
    folder = target.parent
    temporary = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    created = False
    try:
        # Mode 0o666 lets the umask decide, as for any new file (mkstemp gives 0o600).
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        created = True
        yield temporary
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        _keep_permissions(target, temporary)
        os.replace(temporary, target)
        created = False
    except OSError as exc:
        raise _naming(exc, path) from exc
    finally:
        if created:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    _fsync_folder(folder)


def _naming(exc: OSError, path) -> OSError:
    """The same error, naming the output the user gave rather than a temporary name."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, os.fspath(path))


def _keep_permissions(target: Path, temporary: Path) -> None:
    """A replaced file keeps its permission bits (a new one gets the umask's)."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        os.chmod(temporary, stat.S_IMODE(mode))


def _fsync_folder(folder) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` by the rule of :func:`atomic_path`."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def same_file(first, second) -> bool:
    """Whether two paths name the same file, or would once the first is written.

    Existing files are compared by device and inode (``os.path.samefile``), so
    symbolic and hard links to one file are the same file; a path that does not
    exist yet is compared by its resolved path (a dangling link to the other
    path counts).

    Parameters
    ----------
    first, second : str or os.PathLike

    Returns
    -------
    bool
    """
    try:
        return os.path.samefile(first, second)
    except OSError:
        pass
    resolved = (os.path.normcase(os.path.realpath(p)) for p in (first, second))
    return next(resolved) == next(resolved)


def check_output_file(path, inputs=None) -> Path:
    """Check, before any work, that ``path`` can take an output file.

    Refuses an output that is one of ``inputs`` (it would be replaced before it
    was read in full, or instead of it), a folder, a socket or a block device;
    for a new or regular file, creates the folder it goes in if needed and
    checks that files can be made there. A character device or FIFO is accepted
    as it is.

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    inputs : dict, default=None
        What each input is (``"data file"``) to its path; ``None`` paths are skipped.

    Returns
    -------
    pathlib.Path
        The file that will be written (symbolic links resolved).

    Raises
    ------
    ValueError
        When ``path`` is one of ``inputs``, naming both.
    OSError
        When ``path`` cannot take the file, with a one-line message naming it.
    """
    for what, source in (inputs or {}).items():
        if source is not None and same_file(path, source):
            raise ValueError(
                f"the output {os.fspath(path)!r} is the {what} {os.fspath(source)!r}: writing "
                "it would destroy the input; give another output name"
            )
    target, kind = output_target(path)
    if kind != STREAM:
        check_writable_folder(target.parent)
    return target


def check_writable_folder(folder) -> Path:
    """Create ``folder`` if needed and check that files can be written in it.

    Raises
    ------
    OSError
        With a one-line message naming the folder, before any long computation.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".gaussmix-probe-", dir=folder)
        os.close(descriptor)
        os.unlink(probe)
    except FileExistsError:
        reason = "a file is in the way (the path, or a folder on it, is a regular file)"
        raise OSError(f"cannot write to the output folder {str(folder)!r}: {reason}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(f"cannot write to the output folder {str(folder)!r}: {reason}") from None
    return folder


# ----------------------------------------------------------------------------- folders
def check_folder_writable(path) -> Path:
    """Check, before any work, that a folder can be made at ``path`` (or replace it).

    Makes nothing: the nearest existing folder on the way to ``path`` gets a
    private folder made and removed again.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path
        ``path`` with symbolic links resolved.

    Raises
    ------
    OSError
        With a one-line message naming ``path``.
    """
    target = Path(os.path.realpath(path))
    if os.path.lexists(target) and not target.is_dir():
        raise OSError(f"cannot write the output folder {os.fspath(path)!r}: it is a file")
    existing = target.parent
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        reason = f"{str(existing)!r} on its way is a file"
        raise OSError(f"cannot write the output folder {os.fspath(path)!r}: {reason}")
    probe = existing / _private_name(target.name)
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(f"cannot write the output folder {os.fspath(path)!r}: {reason}") from None
    if target.is_dir() and not os.access(target, os.W_OK | os.X_OK):
        raise OSError(
            f"cannot replace the output folder {os.fspath(path)!r}: its files cannot be removed "
            "(no write permission)"
        )
    return target


@contextmanager
def atomic_folder(path, replaceable=None):
    """Yield a private folder to fill; swap it in at ``path`` on success.

    The private folder is made beside ``path`` (so the swap is a rename) and
    named after this process (its id and start time), so that a later call can
    tell one left behind by a killed process from one still in use, and
    removes it. On success the filled folder takes the place of ``path``
    atomically where the system can exchange two names (Linux's ``renameat2``),
    else by two renames; then the previous folder is removed. On any error or
    interruption the private folder is removed and ``path`` is left as it was.
    Folders made on the way to ``path`` are removed again if they stay empty.

    Parameters
    ----------
    path : str or os.PathLike
        The folder to produce. A symbolic link is followed (the link stays).
    replaceable : collection of str, default=None
        Names of the regular files of a previous folder that may be removed
        with it; anything else found there is kept, under a new name beside
        ``path``, with a warning. ``None``: the previous folder is removed whole.

    Yields
    ------
    pathlib.Path
        The private folder.
    """
    target = Path(os.path.realpath(path))
    created = _make_folders(target.parent)
    staging = None
    previous = []
    try:
        remove_abandoned_folders(target)
        staging = target.parent / _private_name(target.name)
        os.mkdir(staging)
        yield staging
        previous = _swap(staging, target)
        staging = None
        _fsync_folder(target.parent)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            for folder in reversed(created):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
        for old in previous:
            _discard(old, target, replaceable)


def remove_abandoned_folders(path) -> list:
    """Remove the private folders of :func:`atomic_folder` for ``path`` whose process is gone.

    Only folders named by :func:`atomic_folder` for this ``path`` are
    considered, and only those whose process (same id, same start time) no
    longer runs are removed, so folders of runs still going are never touched.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    list of pathlib.Path
        The folders removed.
    """
    target = Path(os.path.realpath(path))
    pattern = re.compile(rf"\.{re.escape(target.name)}\.gaussmix-(\d+)-(\d+)-[0-9a-f]+\.tmp")
    removed = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match and not _running(int(match[1]), int(match[2])):
            shutil.rmtree(target.parent / name, ignore_errors=True)
            removed.append(target.parent / name)
    return removed


def _private_name(name: str) -> str:
    return f".{name}.gaussmix-{os.getpid()}-{_start_time(os.getpid())}-{secrets.token_hex(4)}.tmp"


def _start_time(pid: int) -> int:
    """The process's start time (clock ticks since boot, Linux); 0 where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    # Fields after the command name: state is the 3rd of stat(5), starttime the 22nd.
    return 0 if fields[0] == b"Z" else int(fields[19])


def _running(pid: int, start: int) -> bool:
    """Whether the process that made a private folder still runs (not a reused id)."""
    if os.path.isdir("/proc/self"):
        return _start_time(pid) == start != 0
    if os.name == "nt":
        return True  # os.kill would end the process there, not ask about it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _make_folders(folder: Path) -> list:
    """Make ``folder`` and its missing parents; return those made, outermost first."""
    missing = []
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    created = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        created.append(folder)
    return created


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def _renameat2():
    """Linux's renameat2 from the C library, or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_AT_FDCWD = -100
_RENAMEAT2 = _renameat2()


def _rename(source: Path, destination: Path, flags: int) -> bool:
    """renameat2 with ``flags``; False where the system or file system lacks it."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(destination), flags):
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            return False
        raise OSError(code, os.strerror(code), os.fspath(destination))
    return True


def _swap(staging: Path, target: Path) -> list:
    """Put ``staging`` at ``target``; return where previous folders at ``target`` now are."""
    previous = []
    # Another run may put its folder at ``target`` between two steps: try again.
    for _ in range(16):
        # One lstat: between two checks another run may move its folder away.
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            mode = None
        if mode is None:
            try:
                if not _rename(staging, target, RENAME_NOREPLACE):
                    os.rename(staging, target)
                return previous
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                continue
        if not stat.S_ISDIR(mode):
            raise NotADirectoryError(
                errno.ENOTDIR, "something other than a folder appeared there", os.fspath(target)
            )
        try:
            if _rename(staging, target, RENAME_EXCHANGE):
                previous.append(staging)
                return previous
        except FileNotFoundError:
            continue
        aside = target.parent / _private_name(target.name)
        try:
            os.rename(target, aside)
        except FileNotFoundError:
            continue
        previous.append(aside)
        try:
            os.rename(staging, target)
            return previous
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                with contextlib.suppress(OSError):
                    os.rename(aside, target)
                    previous.remove(aside)
                raise
    raise OSError(errno.EBUSY, "other runs keep replacing it; try again", os.fspath(target))


def _discard(old: Path, target: Path, replaceable) -> None:
    """Remove a previous folder swapped out of ``target``; keep what is not replaceable."""
    if replaceable is None:
        shutil.rmtree(old, ignore_errors=True)
        return
    with contextlib.suppress(OSError):
        for entry in os.scandir(old):
            if entry.name in replaceable and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    try:
        os.rmdir(old)
    except FileNotFoundError:
        return
    except OSError:
        kept = target.parent / f"{target.name}.previous-{secrets.token_hex(3)}"
        try:
            os.rename(old, kept)
        except OSError:
            kept = old
        warnings.warn(
            f"the previous {str(target)!r} held files that were not written there by "
            f"gaussmix; they are kept in {str(kept)!r}",
            stacklevel=3,
        )
