"""Writing result files safely, for every command that writes results.

* :func:`atomic_write_bytes` / :func:`atomic_write_text`: a temporary file in the target folder,
  fsync, then rename over the target, so a reader (or a killed run) never sees half a file.
* :func:`prepare_output_dir`: create the output folder, or refuse a path that is a file or a
  folder that cannot be written, before any work is done.
* :func:`write_run`: a run's files plus the completion marker ``run.json``. The marker of an
  earlier run, then that run's files, are removed first, the new files are written atomically,
  and the marker comes last: a folder holds either one complete run (marker present) or an
  incomplete new one (no marker), never old and new files together.

Filesystem faults (disk full, read-only, permission, a file where a folder should be) become a
:class:`~protloc.errors.UserError` with one line naming the path and the cause.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
from contextlib import suppress
from pathlib import Path
from typing import Any, Mapping

from .errors import UserError

#: Completion marker written last by :func:`write_run`.
MARKER = "run.json"
MARKER_FORMAT = "protloc-run-v1"

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a path component is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the path is too long",
}


def describe_os_error(exc: OSError, path: str | os.PathLike[str], verb: str = "write") -> str:
    """One line for the user: ``cannot write PATH: the disk is full``."""
    reason = _REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    return f"cannot {verb} {path}: {reason}"


def prepare_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and its parents) and check it can be written; UserError if not."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"the output folder {path} is an existing file; name a folder instead")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = _create_temporary(path / ".protloc-probe")
        os.close(probe[0])
        os.unlink(probe[1])
    except FileExistsError:
        raise UserError(f"cannot create the output folder {path}: a file is in the way") from None
    except OSError as exc:
        raise UserError(describe_os_error(exc, path, "write to the output folder")) from None
    return path


def write_fully(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a write may be partial)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file beside it, fsync, rename)."""
    path = Path(path)
    fd, tmp = -1, None
    try:
        fd, tmp = _create_temporary(path)
        write_fully(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        tmp = None
        _fsync_folder(path.parent)
    except OSError as exc:
        raise UserError(describe_os_error(exc, path)) from None
    finally:  # also on KeyboardInterrupt: no temporary file is left behind
        if fd >= 0:
            os.close(fd)
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_run(
    out_dir: str | os.PathLike[str], outputs: Mapping[str, bytes], info: Mapping[str, Any]
) -> list[Path]:
    """Write a run's files (plain names -> contents) into ``out_dir``, then the marker.

    ``info`` (JSON-serialisable) goes into the marker beside the file list. Returns the paths
    written, marker last.
    """
    out_dir = prepare_output_dir(out_dir)
    for name in outputs:
        _check_plain_name(name)
    _remove_earlier_run(out_dir, outputs)
    written = [atomic_write_bytes(out_dir / name, data) for name, data in outputs.items()]
    listing = [
        {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in outputs.items()
    ]
    marker = {"format": MARKER_FORMAT, "complete": True, **info, "files": listing}
    written.append(atomic_write_text(out_dir / MARKER, json.dumps(marker, indent=1) + "\n"))
    return written


def _remove_earlier_run(out_dir: Path, outputs: Mapping[str, bytes]) -> None:
    """Marker first (so the folder stops claiming a complete run), then the earlier run's
    files: those its marker lists, and those this run is about to replace."""
    earlier = _listed_files(out_dir / MARKER)
    try:
        (out_dir / MARKER).unlink(missing_ok=True)
        for name in [*earlier, *outputs]:
            (out_dir / name).unlink(missing_ok=True)
    except OSError as exc:
        raise UserError(describe_os_error(exc, out_dir, "replace the earlier results in")) from None


def _listed_files(marker: Path) -> list[str]:
    """Plain file names listed by an earlier marker; anything else in it is ignored."""
    try:
        listing = json.loads(marker.read_text(encoding="utf-8")).get("files", [])
        names = [entry.get("name") for entry in listing]
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        return []
    return [n for n in names if isinstance(n, str) and _is_plain_name(n) and n != MARKER]


def _is_plain_name(name: str) -> bool:
    return bool(name) and Path(name).name == name and name not in (".", "..")


def _check_plain_name(name: str) -> None:
    if not _is_plain_name(name) or name == MARKER:
        raise ValueError(f"output names must be plain file names other than {MARKER}: {name!r}")


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new file beside ``path``: hidden, unique, mode 0666 less the umask (as a plain open)."""
    tmp = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    return os.open(tmp, flags, 0o666), tmp


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every platform or file system allows this."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
