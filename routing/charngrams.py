"""Character n-gram counts for a fitted scikit-learn vectorizer, computed with numpy.

sklearn's char analyzer builds every n-gram of a text as a Python string and looks each up in a
dict: for the product model that is as slow as jieba (a 600-character text has ~1,800 n-grams).
Here a text becomes an array of code points, each n-gram one integer (its characters' ranks in
the vocabulary's alphabet, written in base B), looked up with one `searchsorted` per n. The
counts are exactly sklearn's (tests compare the matrices), so the fitted vectorizer's idf,
sublinear tf and norm apply unchanged, and a model's features do not depend on which path ran.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

_WHITE_SPACES = TfidfVectorizer._white_spaces  # sklearn's own "\s\s+" -> " " normalisation


class CharNgrams:
    """`transform(texts)` == `vectorizer.transform(texts)` for a fitted analyzer="char" TF-IDF."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        v = vectorizer
        if v.analyzer != "char" or v.lowercase or v.preprocessor is not None or v.strip_accents or v.binary:
            raise ValueError("CharNgrams mirrors a plain char analyzer (no lowercase, accents, binary)")
        self.vectorizer = v
        self.low, self.high = v.ngram_range
        grams = list(v.vocabulary_)
        self.alphabet = np.array(sorted({ord(c) for g in grams for c in g}), dtype=np.int64)
        self.base = len(self.alphabet) + 1  # rank 0: a character the vocabulary never saw
        if float(self.base) ** self.high >= 2.0 ** 62:
            raise ValueError("alphabet too large for int64 n-gram codes")
        rank = {chr(p): r for r, p in enumerate(self.alphabet.tolist(), start=1)}
        self.tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n in range(self.low, self.high + 1):
            of_n = [g for g in grams if len(g) == n]
            codes = np.zeros(len(of_n), dtype=np.int64)
            for k in range(n):  # digit by digit, most significant first
                codes = codes * self.base + np.array([rank[g[k]] for g in of_n], dtype=np.int64)
            cols = np.array([v.vocabulary_[g] for g in of_n], dtype=np.int64)
            order = np.argsort(codes)
            self.tables[n] = (codes[order], cols[order])
        self.unigrams = np.full(self.base, -1, dtype=np.int64)  # rank -> column, -1: none
        if 1 in self.tables:
            self.unigrams[self.tables[1][0]] = self.tables[1][1]

    def _ranks(self, text: str) -> np.ndarray:
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        pos = np.searchsorted(self.alphabet, points)
        pos[pos == len(self.alphabet)] = 0
        return np.where(self.alphabet[pos] == points, pos + 1, 0) if len(self.alphabet) else pos

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The n-gram count matrix, as the vectorizer's CountVectorizer part gives it. The whole
        batch is one array, each text followed by a rank-0 separator: an n-gram spanning two
        texts holds a 0 digit, and no vocabulary code does, so it never matches."""
        cleaned = [_WHITE_SPACES.sub(" ", t) for t in texts]
        lengths = np.array([len(t) for t in cleaned], dtype=np.int64)
        ranks = np.insert(self._ranks("".join(cleaned)), np.cumsum(lengths), 0)
        doc = np.repeat(np.arange(len(cleaned)), lengths + 1)
        rows, cols = [], []
        for n in range(self.low, self.high + 1):
            table, columns = self.tables[n]
            width = len(ranks) - n + 1
            if width <= 0 or not len(table):
                continue
            if n == 1:  # one character: its rank is its code, an index into a direct table
                found = self.unigrams[ranks]
                hit = found >= 0
                rows.append(doc[hit])
                cols.append(found[hit])
                continue
            code = ranks[:width].copy()
            for k in range(1, n):
                code = code * self.base + ranks[k:k + width]
            at = np.minimum(np.searchsorted(table, code), len(table) - 1)
            hit = table[at] == code
            rows.append(doc[:width][hit])
            cols.append(columns[at[hit]])
        shape = (len(cleaned), len(self.vectorizer.vocabulary_))
        if not rows:
            return sp.csr_matrix(shape, dtype=self.vectorizer.dtype)
        r, c = np.concatenate(rows), np.concatenate(cols)
        x = sp.coo_matrix((np.ones(len(r), dtype=self.vectorizer.dtype), (r, c)), shape=shape).tocsr()
        x.sum_duplicates()  # also sorts the indices, as sklearn's matrix is
        return x

    def transform(self, texts: Sequence[str], chunk_chars: int = 500_000) -> sp.csr_matrix:
        """TF-IDF rows for texts, counted in chunks of about `chunk_chars` characters (the int64
        arrays take ~50 bytes a character: a big batch at once would take gigabytes)."""
        if not len(texts):
            return self.counts(texts)
        parts, start, size = [], 0, 0
        for i, text in enumerate(texts):
            size += len(text)
            if size >= chunk_chars or i == len(texts) - 1:
                parts.append(self.counts(texts[start:i + 1]))
                start, size = i + 1, 0
        counts = parts[0] if len(parts) == 1 else sp.vstack(parts, format="csr")
        return self.vectorizer._tfidf.transform(counts, copy=False)
