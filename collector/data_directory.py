"""The data directory, readable by the collector's user only.

It holds the generated secret, the embedded server's AOF (buffered ratings, the day's
client-hash salt), the SQLite database and the spool: the directory is 0700 and every
file in it 0600, from the first start on. A start also tightens what an older version
left readable (0644 files, 0755 directories), and sets the process's umask to 077, so
that what it creates later is private too: the SQLite WAL and shared-memory files, the
spool, the lock file, and the files of the embedded valkey-server, which inherits it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
_DIRECTORY_MODE = 0o700
_FILE_MODE = 0o600


def make_private(data_dir: Path, *other_files: Path) -> None:
    """Create data_dir if missing and make it and everything in it private; also the
    other files that exist (a SQLite database kept elsewhere, with its -wal and -shm).
    RuntimeError naming the path when one cannot be changed (another user's file)."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)
    _tighten(data_dir, _DIRECTORY_MODE)
    for root, directories, files in os.walk(data_dir):
        for name in directories:
            _tighten(Path(root, name), _DIRECTORY_MODE)
        for name in files:
            _tighten(Path(root, name), _FILE_MODE)
    for path in other_files:
        if path.exists():
            _tighten(path, _FILE_MODE)


def database_files(database_url: str) -> list[Path]:
    """A SQLite database and the files SQLite keeps beside it in WAL mode (none for
    PostgreSQL)."""
    if not database_url.startswith("sqlite:///"):
        return []
    database = Path(database_url.removeprefix("sqlite:///"))
    return [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")]


def _tighten(path: Path, mode: int) -> None:
    try:
        status = path.lstat()
        # A symbolic link's target may be anything (/etc/...): leave it alone.
        if not stat.S_ISLNK(status.st_mode) and stat.S_IMODE(status.st_mode) != mode:
            path.chmod(mode)
    except FileNotFoundError:
        return  # removed meanwhile (a spool file replayed, a WAL checkpointed)
    except OSError as error:
        raise RuntimeError(f"cannot make {path} private to this user: {error}") from None
