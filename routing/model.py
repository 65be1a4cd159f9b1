"""The routing model: two classifiers of `routing.textmodel` (kind, domain) in one versioned file.

Shipped: `routing/models/<version>.joblib`, trained by `flask routing train` on the project's
labeled examples (`routing/data/examples.csv`); a retrained model (examples plus the office's
imported history and the cases whose labels staff confirmed) goes to `instance/models/` and wins
over the shipped one. Every routed case records the version that labelled it.
"""
from __future__ import annotations

import csv
import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import joblib

from routing.textmodel import VERSION as TEXTMODEL_VERSION
from routing.textmodel import TextModel

SHIPPED = Path(__file__).with_name("models")
EXAMPLES = Path(__file__).parent / "data" / "examples.csv"
_lock = threading.Lock()
_loaded: dict[Path, "ModelBundle"] = {}


@dataclass
class ModelBundle:
    version: str
    kind: TextModel
    domain: TextModel
    trained_on: int

    def kind_scores(self, text: str) -> dict[str, float]:
        return self.kind.scores(text)

    def domain_scores(self, text: str) -> dict[str, float]:
        return self.domain.scores(text)

    def kind_words(self, text: str, label: str) -> list[str]:
        return [w for w, weight in self.kind.explain(text, label, k=5) if weight > 0]

    def domain_words(self, text: str, label: str) -> list[str]:
        return [w for w, weight in self.domain.explain(text, label, k=5) if weight > 0]

    def save(self, folder: Path) -> Path:
        """Write the model and make it the folder's current one."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.version}.joblib"
        joblib.dump(self, path, compress=3)
        pointer = folder / f".CURRENT.{os.getpid()}.{threading.get_ident()}"
        pointer.write_text(path.name + "\n")
        os.replace(pointer, folder / "CURRENT")  # atomic: a router never reads half a name
        return path


def read_examples(path: Path = EXAMPLES) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return [row for row in csv.DictReader(f) if row.get("text")]


def _labelled(rows: list[dict[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return ([(r["text"], r["kind"]) for r in rows if r.get("kind")],
            [(r["text"], r["domain"]) for r in rows if r.get("domain")])


def digest(rows: list[dict[str, str]]) -> str:
    """Names the training data and the model code (textmodel.VERSION): the end of a version."""
    kinds, domains = _labelled(rows)
    return hashlib.sha256("\n".join([TEXTMODEL_VERSION, *(f"{t}\t{k}" for t, k in kinds + domains)])
                          .encode()).hexdigest()[:8]


def train(rows: list[dict[str, str]]) -> ModelBundle:
    """Train on rows with text, kind and domain (empty labels are skipped per model)."""
    kinds, domains = _labelled(rows)
    version = f"route-{datetime.now(timezone.utc):%Y%m%d}-{digest(rows)}"  # the day, the data, the code
    kind_model, domain_model = TextModel(), TextModel()
    kind_model.fit([t for t, _ in kinds], [k for _, k in kinds])
    domain_model.fit([t for t, _ in domains], [d for _, d in domains])
    return ModelBundle(version, kind_model, domain_model, len(rows))


def current(folder: Path) -> Path | None:
    pointer = folder / "CURRENT"
    if not pointer.exists():
        return None
    path = folder / pointer.read_text().strip()
    return path if path.exists() else None


def load(instance_models: Path | None = None) -> ModelBundle:
    """The newest retrained model of this instance, else the shipped one; loaded once per process."""
    path = (current(instance_models) if instance_models else None) or current(SHIPPED)
    if path is None:
        raise FileNotFoundError("no routing model: run `flask routing train`")
    with _lock:
        if path not in _loaded:
            loaded = joblib.load(path)
            _loaded.clear()  # a process keeps the current model only, not every version it saw
            _loaded[path] = loaded
        return _loaded[path]
