"""When code kept on disk may be run: the trust model of tapegrad's caches.

Both caches -- numba's (``cache=True`` functions) and the backward kernel's object file
(``native.py``) -- hold machine code that this process executes as it is.  Whoever can write
to a cache folder can therefore run code as every user of that folder.  So a folder is used
only when nobody but this user (or root) can change what it holds: it, and every folder above
it, must be owned by this user or root, and writable by no one else -- unless, like ``/tmp``,
it has the sticky bit, where others may add entries but not replace ours (a file they add is
then refused by the file check: its owner is not this user or root).  Group-write counts as
"no one else" only for this user's private group (a group of the user's name with no other
members, as with the umask 002 of many Linux distributions).

A refused folder is not read or written; the code is compiled in memory instead (slower to
start, never wrong), with one warning per process naming the folder and the reason.

Files are opened only if they are regular files: a FIFO or device under a kernel's name would
block a read forever, or have side effects.
"""

from __future__ import annotations

import functools
import os
import stat
import sys
import warnings

#: messages (and topics) already given in this process (each problem is reported once, not
#: per kernel)
_warned: set[str] = set()


def warn_once(message: str, topic: str | None = None) -> None:
    """One ``RuntimeWarning`` per distinct message -- or per ``topic``, when given -- per
    process, attributed to the first caller outside tapegrad (``tapegrad/__init__.py`` ignores
    RuntimeWarnings raised in its own modules: NumPy's, for IEEE results that torch gives
    silently).  Every problem with the caches is of the topic "cache": a process whose cache
    cannot be used is told once, however many kernels that touches."""
    if message in _warned or (topic is not None and f"topic: {topic}" in _warned):
        return
    _warned.add(message)
    if topic is not None:
        _warned.add(f"topic: {topic}")
    frame = sys._getframe(1)
    # (importlib's frames too: a kernel module imported on first use warns from inside them)
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in (
            "tapegrad", "importlib", "_frozen_importlib", "_frozen_importlib_external"):
        frame = frame.f_back
    if frame is None:
        warnings.warn_explicit(message, RuntimeWarning, "sys", 1, module="sys")
        return
    namespace = frame.f_globals
    warnings.warn_explicit(message, RuntimeWarning, frame.f_code.co_filename, frame.f_lineno,
                           module=namespace.get("__name__", "sys"),
                           registry=namespace.setdefault("__warningregistry__", {}))


@functools.cache
def untrusted(folder: str) -> str | None:
    """Why code kept in ``folder`` must not be run (as a phrase), or None if only this user
    or root can change it.  A folder that does not exist yet is judged by the nearest one
    above it that does (it would be created there, with no group or other write)."""
    if not hasattr(os, "geteuid"):  # Windows: no POSIX owners and modes to judge by
        return None
    path = os.path.realpath(folder)  # symlinks resolved: the folders checked are the real ones
    while True:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:  # not a folder on the way, no permission to look
            return f"{path} cannot be checked ({exc.strerror})"
        if st is not None:
            reason = _unsafe(path, st, is_dir=True)
            if reason:
                return reason
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _unsafe(path: str, st: os.stat_result, is_dir: bool) -> str | None:
    if not hasattr(os, "geteuid"):
        return None
    euid = os.geteuid()
    if st.st_uid not in (0, euid):
        return f"{path} is owned by another user (uid {st.st_uid})"
    if is_dir and st.st_mode & stat.S_ISVTX:
        return None  # others may add entries, not replace this user's
    if st.st_mode & stat.S_IWOTH:
        return f"{path} is writable by every user"
    if st.st_mode & stat.S_IWGRP and not _private_group(st.st_gid, euid):
        return f"{path} is writable by group {st.st_gid}"
    return None


@functools.cache
def _private_group(gid: int, uid: int) -> bool:
    """Whether ``gid`` is ``uid``'s user-private group: of the user's name, no other member."""
    try:
        import grp
        import pwd

        user, group = pwd.getpwuid(uid), grp.getgrgid(gid)
    except (ImportError, KeyError):
        return False
    return (gid == user.pw_gid and group.gr_name == user.pw_name
            and set(group.gr_mem) <= {user.pw_name})


def read_trusted(path: os.PathLike | str) -> bytes | None:
    """The bytes of the regular file at ``path``; None if there is none.

    Raises ``PermissionError`` (with the reason) for a file that must not be run: one in an
    untrusted folder, owned by another user or writable by others, or not a regular file (a
    FIFO, a device, a symlink) -- which is never opened in a way that could block.
    """
    path = os.fspath(path)
    reason = untrusted(os.path.dirname(path) or ".")
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        return None
    if reason:
        raise PermissionError(reason)
    if not stat.S_ISREG(before.st_mode):
        raise PermissionError(f"{path} is not a regular file")
    # O_NONBLOCK: should a FIFO have replaced the file since the lstat, opening it returns at
    # once instead of waiting for a writer; O_NOFOLLOW: nor is a symlink followed
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (before.st_dev,
                                                                       before.st_ino):
            raise PermissionError(f"{path} changed while it was opened")
        reason = _unsafe(path, st, is_dir=False)
        if reason:
            raise PermissionError(reason)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def make_folder(folder: os.PathLike | str) -> None:
    """Create ``folder`` and any missing parents writable by their owner only (whatever the
    umask: a group-writable cache folder would be refused by :func:`untrusted`)."""
    folder = os.path.abspath(os.fspath(folder))
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            continue  # made meanwhile by another process: judged by untrusted() when used
        os.chmod(path, os.stat(path).st_mode & ~0o022)  # (mkdir's mode is masked, not forced)


def regular_entries_only(folder: str, prefix: str) -> str | None:
    """Why an entry of ``folder`` named ``prefix...`` must not be opened -- not a regular
    file, or one another user owns or can write -- or None.  For numba's cache, which opens
    and runs its index and data files without looking."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.startswith(prefix):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    return f"{entry.path} is not a regular file"
                reason = _unsafe(entry.path, entry.stat(follow_symlinks=False), is_dir=False)
                if reason:
                    return reason
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{folder} cannot be listed ({exc.strerror})"
    return None
