"""deduplicate(): one batch run over a set of documents."""

from __future__ import annotations

from collections.abc import Iterable

from dedup.config import DedupConfig
from dedup.index import DedupIndex
from dedup.model import DedupResult, Document


def deduplicate(docs: Iterable[Document], config: DedupConfig | None = None) -> DedupResult:
    """Group documents into stories and record passage links (a rebuild of a fresh index)."""
    index = DedupIndex(config)
    index.add(docs)
    return index.result()
