"""NumPy helpers shared by the passage index and the archive."""

from __future__ import annotations

import numpy as np


def gather_ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Indexes ``starts[i] .. starts[i] + sizes[i] - 1`` of every range, concatenated in order
    (to take many rows of a flat array at once)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    ends = np.cumsum(sizes)
    return np.repeat(np.asarray(starts, dtype=np.int64) - ends + sizes, sizes) + np.arange(
        int(ends[-1]) if ends.size else 0)
