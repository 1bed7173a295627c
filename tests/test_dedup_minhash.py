"""NumPy MinHash: agreement with exact Jaccard, determinism across processes, backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dedup import DedupConfig
from dedup.minhash import (
    kperm32_signatures,
    kperm_signatures,
    oph_signatures,
)
from dedup.reference import oph_signatures_numpy
from dedup.signatures import signatures

ROOT = Path(__file__).resolve().parents[1]


def _pairs(size: int, n: int = 300) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(7)
    sets, truth = [], []
    for _ in range(n):
        u = rng.integers(0, 2**63, size=size, dtype=np.uint64)
        both = int(rng.integers(1, size))
        half = (size - both) // 2
        sets += [u[:both + half], np.concatenate([u[:both], u[both + half:]])]
        truth.append(both / size)
    return sets, np.asarray(truth)


@pytest.mark.parametrize("sign", [oph_signatures, oph_signatures_numpy, kperm_signatures,
                                  kperm32_signatures])
@pytest.mark.parametrize("size", [12, 60, 700])
def test_estimates_agree_with_exact_jaccard(sign, size: int) -> None:
    sets, truth = _pairs(size)
    offsets = np.concatenate(([0], np.cumsum([s.size for s in sets])))
    sig = sign(np.concatenate(sets), offsets, 128, 1)
    est = (sig[0::2] == sig[1::2]).mean(axis=1)
    assert abs(float((est - truth).mean())) < 0.01  # unbiased
    assert float(np.abs(est - truth).mean()) < 0.04  # datasketch at 128 perms: ~0.03


def test_abridged_copy_is_not_lost() -> None:
    """A copy with a new 40-word lede and its last tenth cut (true Jaccard ~0.85)."""
    rng = np.random.default_rng(3)
    src = rng.integers(0, 2**63, size=700, dtype=np.uint64)
    copy = np.concatenate([rng.integers(0, 2**63, size=40, dtype=np.uint64), src[:630]])
    exact = 630 / 740
    for sign in (oph_signatures, kperm_signatures, kperm32_signatures):
        sig = sign(np.concatenate([src, copy]), np.array([0, 700, 1370]), 128, 1)
        assert abs(float((sig[0] == sig[1]).mean()) - exact) < 0.12


def test_duplicates_order_and_batching_do_not_matter() -> None:
    rng = np.random.default_rng(5)
    sets = [rng.integers(0, 2**63, size=n, dtype=np.uint64) for n in (1, 9, 40, 300, 0, 5)]
    config = DedupConfig()
    together = signatures(sets, config)
    for i, s in enumerate(sets):
        shuffled = np.concatenate([s[::-1], s])
        assert (signatures([shuffled], config)[0] == together[i]).all()


_SCRIPT = """
import numpy as np
from dedup.minhash import kperm32_signatures, kperm_signatures, oph_signatures
from dedup.reference import shingle_hashes
h, _ = shingle_hashes(tuple("the quick brown fox jumps over the lazy dog again".split()), 5, 8, 1)
off = np.array([0, h.size])
print(kperm_signatures(h, off, 16, 1)[0].tolist(), oph_signatures(h, off, 16, 1)[0].tolist(),
      kperm32_signatures(h, off, 16, 1)[0].tolist())
"""


def test_signatures_are_identical_across_processes_and_hash_seeds() -> None:
    outs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env,
                                capture_output=True, text=True, check=True).stdout)
    assert len(outs) == 1


def test_backend_and_scheme_must_match() -> None:
    with pytest.raises(ValueError, match="backend"):
        DedupConfig(scheme="affine32")
    assert DedupConfig(signature_backend="datasketch", scheme="affine32").scheme == "affine32"
