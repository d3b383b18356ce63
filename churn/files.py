"""Host-side file utilities, written once: hashing, copying without sharing, local URIs.

(The step code's own file I/O, which also runs inside containers, is :mod:`churn.tables`.)
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Linux ioctl that makes ``target`` share ``source``'s blocks copy-on-write (a reflink: btrfs,
#: XFS, bcachefs, ...). A later write to either file changes that file only.
_FICLONE = 0x40049409


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    """The sha256 of ``text`` as UTF-8 (a pipeline definition's hash, for one)."""
    return hashlib.sha256(text.encode()).hexdigest()


def tree_files(root: Path, pattern: str = "*") -> list[Path]:
    """The files below ``root`` matching ``pattern``, sorted (none when ``root`` is no folder)."""
    return sorted(p for p in root.rglob(pattern) if p.is_file()) if root.is_dir() else []


def has_content(folder: Path) -> bool:
    """Whether ``folder`` holds at least one non-empty file."""
    return any(f.stat().st_size for f in tree_files(folder))


def tree_sha256(root: Path, files: list[Path] | None = None) -> str:
    """sha256 over the relative paths and contents of ``files`` (default: every file) below ``root``."""
    digest = hashlib.sha256()
    for file in tree_files(root) if files is None else files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + bytes.fromhex(file_sha256(file)))
    return digest.hexdigest()


def content_sha256(path: Path) -> str:
    """A file's sha256, or a folder's :func:`tree_sha256`."""
    return file_sha256(path) if path.is_file() else tree_sha256(path)


def clone_or_copy(source: Path, target: Path) -> None:
    """Give ``target`` the bytes of ``source`` without the two ever sharing writes: a reflink
    where the file system has them (instant, no extra space until one side changes), else a
    plain copy. Never a hard link: writing through one name must not change the other."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            return
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF):
                raise
        shutil.copyfileobj(src, dst, 1 << 20)


@contextmanager
def new_folder(target: Path) -> Iterator[Path]:
    """Build a folder and publish it as ``target`` whole, or not at all.

    The block fills a hidden sibling (``.<name>.<random>.partial``, created here); when it ends
    without error the sibling is renamed to ``target``, so no reader ever sees half a folder.
    If ``target`` exists by then (another process published the same content meanwhile), the
    copy is dropped and any error is ignored. The sibling never outlives the block."""
    partial = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
    partial.mkdir(parents=True)
    try:
        yield partial
        partial.rename(target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def file_uri(path: Path | str) -> str:
    """``file://`` + the absolute path, not percent-encoded: SageMaker local mode reads the path
    of a ``file://`` URI as it stands, so ``Path.as_uri()``'s ``%20`` breaks a folder with a space."""
    return "file://" + Path(path).absolute().as_posix()


def uri_path(uri: str) -> Path:
    """The local path of a ``file://`` URI written by :func:`file_uri`."""
    if not uri.startswith("file://"):
        raise ValueError(f"not a file:// URI: {uri}")
    return Path(uri[len("file://"):])


#: Characters a local path used by local mode cannot hold: ``#`` and ``?`` end the path of a URI
#: for the SDK's ``urlparse``, ``:`` separates a Docker volume's host and container paths, and
#: Compose substitutes ``$VAR`` in the compose file the SDK writes unescaped.
UNSAFE_PATH_CHARACTERS = "#?:$"


def unsafe_characters(path: Path | str) -> str:
    return "".join(sorted({c for c in str(path) if c in UNSAFE_PATH_CHARACTERS}))


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (also through symbolic or hard links); a path that
    does not exist yet is compared by where it resolves to."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return Path(a).resolve() == Path(b).resolve()
