"""Writes the report's files all together or not at all, as far as a file system allows.

Each file goes to a unique temporary in the target folder (tempfile.mkstemp: two
reports written at once never share one), is flushed and fsync'ed, and only when
every temporary is complete are they renamed over their targets, with SIGINT,
SIGTERM and SIGHUP held back all the while so that an interrupt cannot split them;
then the folder is fsync'ed so that the renames survive a crash. On any failure
the temporaries are removed and a previous report stays as it was.
"""
import os
import signal
import stat
import tempfile

from errors import Interrupted

HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


class WriteError(Exception):
    """The report cannot be written to its folder: exit 1."""


def check_targets(folder, names):
    """Refuses, before anything is rendered, a folder or a target path that exists and is
    not what it must be (a folder named report.html, a FIFO, a symbolic link: renaming
    over them would silently replace what someone put there)."""
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise WriteError(f"{folder} exists and is not a folder")
    for name in names:
        path = os.path.join(folder, name)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        except OSError as e:
            raise WriteError(f"cannot check {path}: {e.strerror}")
        if not stat.S_ISREG(mode):
            raise WriteError(f"{path} exists and is not a regular file; not replacing it")


def _file_mode():
    """What open() would have given a new file (mkstemp creates 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_folder(folder):
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temporary(folder, name, data, mode, temporaries):
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    temporaries.append(tmp)  # before anything can fail: the caller removes it
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def write_all(folder, files):
    """files: [(name, bytes)]. Creates `folder` if missing. Raises WriteError, or
    Interrupted for a signal that came before the renames; either way the temporaries
    are gone and no target was touched (a failing rename, which check_targets makes
    unlikely, can leave the earlier ones done). Returns with SIGINT, SIGTERM and
    SIGHUP blocked for good once every target is replaced."""
    check_targets(folder, [name for name, _ in files])
    created = not os.path.lexists(folder)
    temporaries = []
    committed = False
    # Held from the first temporary to the last removal: an interrupt is acted on
    # either before any target is replaced or after all of them are.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
    try:
        os.makedirs(folder, exist_ok=True)
        mode = _file_mode()
        done = [(_write_temporary(folder, name, data, mode, temporaries), name) for name, data in files]
        if signal.sigpending() & HELD:
            raise Interrupted()
        for tmp, name in done:
            os.replace(tmp, os.path.join(folder, name))
            temporaries.remove(tmp)
        committed = True
        _fsync_folder(folder)
    except OSError as e:
        raise WriteError(f"cannot write the report to {folder}: {e.strerror or e}")
    finally:
        for tmp in temporaries:
            _remove(tmp, os.unlink)
        if created and not committed:
            _remove(folder, os.rmdir)  # only if empty: the folder this run made, nothing else
        if not committed:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a held signal is delivered here
        # Once committed the signals stay held until the process exits: the report is
        # whole, and an interrupt now (also one Python would act on with its default
        # action while shutting down) must not turn its success into a failure.


def _remove(path, how):
    try:
        how(path)
    except OSError:
        pass  # gone already, or (a folder) not empty: nothing of ours is left in it
