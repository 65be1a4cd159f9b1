"""Text classification for routing: jieba words (1–2) and characters (1–3), TF-IDF, a linear
model. The same code serves the product's kind/domain models and `bench/classifier.py`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import sklearn
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from routing import segment


def _words(text: str) -> list[str]:
    return segment.tokens(text)


def _vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    words = TfidfVectorizer(analyzer=_words_ngrams, sublinear_tf=True, min_df=1)
    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
    return words, chars


def _words_ngrams(text: str) -> list[str]:
    toks = _words(text)
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]


@dataclass
class TextModel:
    """fit / predict / scores / explain; pickled whole by `routing.model`."""
    C: float = 0.5
    meta: dict = field(default_factory=dict)

    def fit(self, texts, labels) -> "TextModel":
        texts, labels = list(texts), list(labels)
        self._words, self._chars = _vectorizers()
        X = hstack([self._words.fit_transform(texts), self._chars.fit_transform(texts)]).tocsr()
        self._svm = LinearSVC(C=self.C, class_weight="balanced").fit(X, list(labels))
        self.labels = list(self._svm.classes_)
        self._names = np.array([f"词:{w}" for w in self._words.get_feature_names_out()]
                               + [f"字:{c}" for c in self._chars.get_feature_names_out()], dtype=object)
        self.meta = {"trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "n": len(labels),
                     "labels": self.labels, "sklearn": sklearn.__version__}
        return self

    def _X(self, texts):
        return hstack([self._words.transform(texts), self._chars.transform(texts)]).tocsr()

    def predict(self, texts) -> list[str]:
        return list(self._svm.predict(self._X(list(texts))))

    def scores(self, text: str) -> dict[str, float]:
        d = self._svm.decision_function(self._X([text]))[0]
        d = np.atleast_1d(d)
        if len(self.labels) == 2:
            d = np.array([-d[0], d[0]])
        e = np.exp((d - d.max()) * 3)
        p = e / e.sum()
        return {label: float(v) for label, v in zip(self.labels, p, strict=True)}

    def explain(self, text: str, label: str, k: int = 5) -> list[tuple[str, float]]:
        x = self._X([text])
        i = self.labels.index(label)
        coef = self._svm.coef_[i if len(self.labels) > 2 else 0]
        contrib = x.multiply(coef).tocsr()
        order = np.argsort(-contrib.data)[:k]
        return [(str(self._names[contrib.indices[j]]).split(":", 1)[1], float(contrib.data[j])) for j in order]
