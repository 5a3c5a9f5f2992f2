"""Writing output files so that a failure never leaves a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    # The only portable way to read the umask is to set it; done once, at import.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _current_umask()


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; move it onto ``path`` on success.

    The temporary file lives in the same folder, so the final ``os.replace`` is
    atomic; on any error it is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The file to produce.

    Yields
    ------
    pathlib.Path
        Where to write the content.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or "."
    )
    os.close(descriptor)
    temporary = Path(temporary)
    try:
        yield temporary
        # mkstemp creates owner-only files; give the result the usual permissions.
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


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
