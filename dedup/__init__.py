"""Near-duplicate detection for news pages: stories of copies, passage links between stories.

Pure algorithms: no Scrapy, no SQLAlchemy. See ``DedupConfig`` for every parameter.
"""

from dedup.config import ALGORITHM_VERSION, DedupConfig
from dedup.dedupe import deduplicate
from dedup.explain import Explanation, SharedPassage, explain
from dedup.index import DedupIndex, IndexMismatch
from dedup.model import DedupResult, Document, PassageLink, Story

__all__ = [
    "ALGORITHM_VERSION",
    "DedupConfig",
    "DedupIndex",
    "DedupResult",
    "Document",
    "Explanation",
    "IndexMismatch",
    "PassageLink",
    "SharedPassage",
    "Story",
    "deduplicate",
    "explain",
]
