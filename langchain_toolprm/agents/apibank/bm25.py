"""A small Okapi BM25, so the offline SearchEngine and ToolSearcher rank without a retrieval
library: API-Bank's search engine ranks its stored documents by BM25, and a lexical ranking is
the documented stand-in for ToolSearcher's sentence embeddings."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks (how the stored documents were tokenised)."""
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 over pre-tokenised documents (``k1``, ``b``; a term in over half the documents
    gets ``epsilon`` times the mean idf instead of a negative one)."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75,
                 epsilon: float = 0.25) -> None:
        self.k1, self.b = k1, b
        self.counts = [Counter(doc) for doc in documents]
        self.lengths = [len(doc) for doc in documents]
        self.mean_length = sum(self.lengths) / max(len(documents), 1)
        frequency = Counter(term for doc in self.counts for term in doc)
        n = len(documents)
        self.idf = {t: math.log(n - f + 0.5) - math.log(f + 0.5) for t, f in frequency.items()}
        floor = epsilon * sum(self.idf.values()) / max(len(self.idf), 1)
        self.idf = {t: v if v >= 0 else floor for t, v in self.idf.items()}

    def scores(self, query: Sequence[str]) -> list[float]:
        out = []
        for counts, length in zip(self.counts, self.lengths):
            norm = self.k1 * (1 - self.b + self.b * length / self.mean_length)
            out.append(sum(self.idf.get(t, 0.0) * counts[t] * (self.k1 + 1) / (counts[t] + norm)
                           for t in query if counts[t]))
        return out

    def top(self, query: Sequence[str], k: int) -> list[int]:
        """The indices of the ``k`` best documents, best first (ties keep document order)."""
        scores = self.scores(query)
        return sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
