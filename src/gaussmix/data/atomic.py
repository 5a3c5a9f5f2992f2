"""Writing output files so that a failure never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; move it onto ``path`` on success.

    The temporary file lives in the same folder, so the final ``os.replace`` is
    atomic; before it the file is flushed to disk, after it the folder, so a
    crash leaves either the old file or the new one. On any error the temporary
    file is removed, ``path`` is left as it was, and an ``OSError`` names
    ``path``, not the temporary name.

    Parameters
    ----------
    path : str or os.PathLike
        The file to produce.

    Yields
    ------
    pathlib.Path
        Where to write the content (created empty, with the permissions the
        umask gives any new file).
    """
    path = Path(path)
    folder = path.resolve().parent
    temporary = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
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
        os.replace(temporary, path)
        created = False
    except OSError as exc:
        if exc.errno is not None:
            raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from exc
        raise
    finally:
        if created:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    _fsync_folder(folder)


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
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


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
