"""Block-aligned I/O past the page cache: what is written is read back exactly, whatever the
sizes (partial blocks, several chunks, small files through the cache), and a short or changed
file is refused rather than read as zeros."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dedup.blockio import (
    BLOCK,
    DIRECT_MIN,
    FileMismatch,
    Generations,
    aligned,
    append_cached,
    append_direct,
    load_direct,
    npy_buffer,
    open_direct,
    read_direct,
    transfer,
    write_atomically,
    write_direct,
)


def test_aligned_buffers_start_and_end_on_block_boundaries() -> None:
    assert len(aligned(0)) == 0
    for n in (1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7):
        buf = aligned(n)
        assert buf.ctypes.data % BLOCK == 0
        assert len(buf) == -(-n // BLOCK) * BLOCK


def test_appends_and_run_files_hold_exactly_what_was_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    path = tmp_path / "s.u64"
    path.touch()
    parts = [rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
             for n in (0, 1, 511, 512, 3000, 1)]
    for part in parts:
        append_direct(path, part, chunk=8192)  # several chunks, partial blocks between
    append_cached(path, parts[2])
    want = np.concatenate([*parts, parts[2]])
    assert np.array_equal(np.fromfile(path, np.uint64), want)
    got = read_direct(path, 8 * 513, 8 * 2000).view(np.uint64)  # unaligned start and length
    assert np.array_equal(got, want[513:2513])
    for dtype, n in ((np.uint64, 0), (np.int32, 1000), (np.uint64, 777),
                     (np.uint64, DIRECT_MIN // 8 + 5)):  # the last one past the page cache
        buf, view, end = npy_buffer(dtype, n)
        view[:] = np.arange(n, dtype=dtype)
        write_direct(tmp_path / "r.npy", buf, end)
        assert (tmp_path / "r.npy").stat().st_size == end
        assert np.array_equal(np.load(tmp_path / "r.npy"), np.arange(n, dtype=dtype))
        assert np.array_equal(load_direct(tmp_path / "r.npy"), np.arange(n, dtype=dtype))


def test_a_short_file_is_refused_not_read_as_zeros(tmp_path: Path) -> None:
    path = tmp_path / "s.u64"
    np.arange(100, dtype=np.uint64).tofile(path)
    with pytest.raises(FileMismatch, match="shorter"):
        read_direct(path, 0, 8 * 101)
    assert np.array_equal(read_direct(path, 8, 8 * 99).view(np.uint64), np.arange(1, 100))


def test_an_unaligned_transfer_falls_back_to_the_page_cache(tmp_path: Path) -> None:
    """A file system may take O_DIRECT at open and refuse an unaligned transfer (EINVAL): the
    descriptor drops O_DIRECT and the transfer completes."""
    path = tmp_path / "f.bin"
    data = np.arange(1000, dtype=np.uint8)
    fd = open_direct(path, os.O_RDWR | os.O_CREAT)
    try:
        raw = np.empty(len(data) + 1, np.uint8)
        view = raw[1:] if raw.ctypes.data % BLOCK == 0 else raw[:-1]  # off block alignment
        view[:] = data
        assert transfer(fd, memoryview(view), 3, write=True) == len(data)
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0)
        back = np.zeros(len(data), np.uint8)
        assert transfer(fd, memoryview(back), 3, write=False) == len(data)
        assert transfer(fd, memoryview(np.zeros(10, np.uint8)), 2000, write=False) == 0
    finally:
        os.close(fd)
    assert np.array_equal(back, data)


def test_write_atomically_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_atomically(path, "old")
    # A writer killed after writing the temporary file but before the rename leaves the old
    # file whole; the next write replaces the leftover.
    code = ("import os, signal, sys\n"
            "from pathlib import Path\n"
            "import dedup.blockio as b\n"
            "os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
            "b.write_atomically(Path(sys.argv[1]), 'new' * 100000)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], check=False)
    assert proc.returncode == -9
    assert path.read_text() == "old"
    write_atomically(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


_SAVER = """
import sys
from pathlib import Path
import numpy as np
from dedup.blockio import Generations
gens = Generations(Path(sys.argv[1]), "state.json")
head = gens.header()
start = 0 if head is None else head["i"] + 1
if head is not None:
    gens.recover(head)
print("ready", flush=True)
for i in range(start, start + 100000):
    gens.save({"a": np.full(1000 * (i % 7 + 1), i), "b": np.arange(i % 50)}, {"i": i})
"""


def test_generations_survive_kill_9_at_any_point(tmp_path: Path) -> None:
    """A saver killed at random points of its saves leaves the generation its header names
    whole, and nothing of any other once recovered; saving goes on from there."""
    rng = np.random.default_rng(5)
    seen = -1
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(tmp_path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(float(rng.uniform(0.05, 0.4)))
        proc.kill()
        proc.wait()
        gens = Generations(tmp_path, "state.json")
        head = gens.header()
        assert head is not None
        gens.recover(head)
        i = head["i"]
        assert i >= seen
        seen = i
        assert np.array_equal(gens.load("a"), np.full(1000 * (i % 7 + 1), i))
        assert np.array_equal(gens.load("b"), np.arange(i % 50))
        assert sorted(p.name for p in tmp_path.glob("*.npy")) == [
            f"a.{head['generation']}.npy", f"b.{head['generation']}.npy"]
    assert seen > 6  # the savers got on, each from where the last one stopped
