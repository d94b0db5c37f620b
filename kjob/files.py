"""Output files written whole or not at all: a temporary file beside the target, renamed into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from kjob.errors import KjobError


class OutputFailed(KjobError):
    """The output file could not be written; the old file (if any) is kept as it was."""

    exit_code = 2


@contextmanager
def atomic_output(path: str) -> Iterator[BinaryIO]:
    """A binary file that replaces `path` only when the block completes; on any failure,
    including Ctrl-C, the temporary file is removed and `path` is untouched."""
    target = os.path.abspath(path)
    directory, name = os.path.split(target)
    if os.path.isdir(target):
        raise OutputFailed(f"cannot write {path}: it is a directory")
    try:
        handle_fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".kjob-partial", dir=directory)
    except OSError as exc:
        raise OutputFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle_fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except OSError as exc:
        _remove(temporary)
        raise OutputFailed(f"cannot write {path}: {exc.strerror or exc} (nothing was changed)") from None
    except BaseException:
        _remove(temporary)
        raise


def _mode_for(target: str) -> int:
    """The existing file's mode, or what a new file would get under the umask."""
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
