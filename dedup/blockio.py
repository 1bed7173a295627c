"""Block-aligned file I/O past the page cache, ``.npy`` files through it, and atomic replace.

Bulk files that nothing reads back soon (an archive's shingles, per-site count runs) are
written and read with ``O_DIRECT`` where the file system allows it: taking gigabytes of fresh
cache pages costs more than the writes. ``O_DIRECT`` wants file offsets, lengths and buffers
aligned to ``BLOCK``; these helpers keep that bookkeeping in one place and fall back to the
page cache where the file system refuses it. ``write_atomically`` replaces a small file so that
a crash leaves the old or the new one, whole; ``Generations`` saves a set of arrays the same
way (the archive's state today, the one engine's state files next).
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
from pathlib import Path

import numpy as np

BLOCK = 4096  # O_DIRECT alignment of file offsets, lengths and buffers
DIRECT_MIN = 1 << 19  # smaller files are written through the page cache


class FileMismatch(ValueError):
    """A file is not what its owner recorded: shorter, or changed while appending."""


def aligned(nbytes: int) -> np.ndarray:
    """A uint8 buffer of ``nbytes`` rounded up to whole blocks, starting on a block boundary
    (what ``O_DIRECT`` reads and writes need)."""
    size = -(-nbytes // BLOCK) * BLOCK
    raw = np.empty(size + BLOCK, np.uint8)
    at = -raw.ctypes.data % BLOCK
    return raw[at:at + size]


def open_direct(path: Path, flags: int) -> int:
    """``os.open`` with ``O_DIRECT`` (no page cache) where the file system allows it."""
    direct = getattr(os, "O_DIRECT", 0)
    if direct:
        try:
            return os.open(path, flags | direct, 0o644)
        except OSError:
            pass
    return os.open(path, flags, 0o644)


def transfer(fd: int, view: memoryview, at: int, write: bool) -> int:
    """``pwrite``/``preadv`` all of ``view`` at offset ``at`` (a read stops at the end of the
    file); a file system that takes ``O_DIRECT`` at open but refuses it here gets the page
    cache instead. Returns the bytes moved."""
    done = 0
    while done < len(view):
        try:
            n = (os.pwrite(fd, view[done:], at + done) if write
                 else os.preadv(fd, [view[done:]], at + done))
        except OSError as err:
            direct = getattr(os, "O_DIRECT", 0)
            if err.errno != errno.EINVAL or not fcntl.fcntl(fd, fcntl.F_GETFL) & direct:
                raise
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~direct)
            continue
        if n == 0:
            break
        done += n
    return done


def write_direct(path: Path, buf: np.ndarray, nbytes: int) -> None:
    """Write the first ``nbytes`` of the block-aligned ``buf`` as the new file ``path``, past
    the page cache if it is large (a bulk write through the cache costs more than the copy,
    and nothing reads the file back soon; a small one would wait on the disk for nothing)."""
    if nbytes < DIRECT_MIN:
        path.write_bytes(memoryview(buf)[:nbytes])
        return
    fd = open_direct(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        transfer(fd, memoryview(buf)[:-(-nbytes // BLOCK) * BLOCK], 0, write=True)
        os.ftruncate(fd, nbytes)
    finally:
        os.close(fd)


def append_direct(path: Path, data: np.ndarray, chunk: int = 8 << 20) -> None:
    """Append ``data``'s bytes to the file ``path`` past the page cache: its last partial
    block is written again, whole blocks go through one aligned ``chunk``-byte buffer."""
    size = path.stat().st_size
    src = memoryview(np.ascontiguousarray(data)).cast("B")
    if not len(src):
        return
    start = size - size % BLOCK
    buf = aligned(min(chunk, size - start + len(src)))
    fd = open_direct(path, os.O_RDWR)
    try:
        filled = transfer(fd, memoryview(buf)[:BLOCK], start, write=False) if size > start else 0
        if filled != size - start:
            raise FileMismatch(f"{path} changed while appending")
        taken = 0
        while taken < len(src):
            step = min(len(buf) - filled, len(src) - taken)
            buf[filled:filled + step] = src[taken:taken + step]
            taken, filled = taken + step, filled + step
            transfer(fd, memoryview(buf)[:-(-filled // BLOCK) * BLOCK], start, write=True)
            start, filled = start + filled, 0
        os.ftruncate(fd, size + len(src))
    finally:
        os.close(fd)


def append_cached(path: Path, data: np.ndarray) -> None:
    """Append ``data``'s bytes to the file ``path`` through the page cache."""
    with path.open("ab") as f:
        f.write(memoryview(np.ascontiguousarray(data)).cast("B"))


def read_ranges(path: Path, dst: np.ndarray, at: np.ndarray, first: np.ndarray,
                sizes: np.ndarray) -> bool:
    """Read ranges of the file ``path`` (items of ``dst``'s dtype: ``sizes[i]`` of them from
    item ``first[i]``) into ``dst[at[i]:at[i] + sizes[i]]``, ``pread`` per range (not a memory
    map: a mapping's fault-around would make most of the file resident). False when the file
    is shorter."""
    item = dst.dtype.itemsize
    view = memoryview(dst).cast("B")
    with path.open("rb") as f:
        fd = f.fileno()
        for lo, n, pos in zip((at * item).tolist(), (sizes * item).tolist(),
                              (first * item).tolist(), strict=True):
            if n and os.preadv(fd, [view[lo:lo + n]], pos) != n:
                return False
    return True


def fsync_path(path: Path) -> None:
    """Flush the file or directory ``path`` to disk (an append before a header names it, a
    directory after a rename in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_direct(path: Path, first: int, nbytes: int) -> np.ndarray:
    """Bytes ``first .. first + nbytes`` of the file ``path`` (uint8, 8-byte aligned), read
    past the page cache (the blocks around them, into an aligned buffer)."""
    lo = first - first % BLOCK
    buf = aligned(first + nbytes - lo)
    fd = open_direct(path, os.O_RDONLY)
    try:
        got = transfer(fd, memoryview(buf), lo, write=False)
    finally:
        os.close(fd)
    if got < first + nbytes - lo:
        raise FileMismatch(f"{path} is shorter than the archive says")
    return buf[first - lo:first - lo + nbytes]


def npy_buffer(dtype: type, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A block-aligned buffer holding an ``.npy`` header for ``n`` values of ``dtype`` and
    room for them, the array view of that room (filled in place, then ``write_direct``) and
    the file's length."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": np.lib.format.dtype_to_descr(
        np.dtype(dtype)), "fortran_order": False, "shape": (n,)})
    header = head.getvalue()
    end = len(header) + n * np.dtype(dtype).itemsize
    buf = aligned(end)
    buf[:len(header)] = np.frombuffer(header, np.uint8)
    return buf, buf[len(header):end].view(dtype), end


def load_direct(path: Path) -> np.ndarray:
    """``np.load`` of a 1-d ``.npy`` file, read past the page cache."""
    with path.open("rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
        offset = f.tell()
    n = int(np.prod(shape))
    return read_direct(path, offset, n * dtype.itemsize).view(dtype)


#: The suffix of the file ``write_atomically`` writes before it replaces the real one (a crash
#: may leave one behind).
TMP_SUFFIX = ".tmp"


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new file, whole; a
    failed write (a full disk) leaves the old one and no temporary file."""
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def write_npy(path: Path, arr: np.ndarray) -> None:
    """``np.save`` to ``path``, fsynced (a file a header will name, so whole before it)."""
    with path.open("wb") as f:
        np.save(f, arr)
        f.flush()
        os.fsync(f.fileno())


class Generations:
    """Arrays saved as whole ``.npy`` files of a numbered generation in ``root``, named by a
    JSON header file replaced atomically.

    ``save`` writes and fsyncs the next generation's files, then replaces the header, then
    removes the other generations' files: a crash (kill -9) at any point leaves the generation
    the header names complete, and ``recover`` removes whatever a crashed save left. Files of
    generation 0 carry no number (archives saved before generations)."""

    def __init__(self, root: Path, header: str) -> None:
        self.root = Path(root)
        self.header_path = self.root / header
        self.generation = 0

    def path(self, name: str, generation: int | None = None) -> Path:
        g = self.generation if generation is None else generation
        return self.root / (f"{name}.{g}.npy" if g else f"{name}.npy")

    def header(self) -> dict | None:
        """The saved header, or None if nothing was saved (reads only)."""
        if not self.header_path.exists():
            return None
        return json.loads(self.header_path.read_text())

    def recover(self, head: dict) -> None:
        """Take the generation ``head`` names; remove the files of any other."""
        self.generation = int(head.get("generation", 0))
        self._drop_others()

    def load(self, name: str) -> np.ndarray:
        return np.load(self.path(name))

    def save(self, arrays: dict[str, np.ndarray], head: dict) -> None:
        """Write ``arrays`` as the next generation and ``head`` (plus the generation) as the
        header, crash-safe (above)."""
        generation = self.generation + 1
        for name, arr in arrays.items():
            write_npy(self.path(name, generation), arr)
        write_atomically(self.header_path,
                         json.dumps({**head, "generation": generation}, sort_keys=True))
        self.generation = generation
        self._drop_others()

    def _drop_others(self) -> None:
        """Remove array files that are not of the current generation (the old one after a
        save, a half-written new one after a crash)."""
        keep = {self.path(p.name.split(".")[0]).name for p in self.root.glob("*.npy")}
        for path in self.root.glob("*.npy"):
            if path.name not in keep:
                path.unlink()
