"""Classifier benchmark: the product text model against the plain baseline, same split, one run.

    .venv/bin/python bench/classifier.py [--data PATH] [--seed 20261125] [--also-seeds 1,2,3]

Data: `../shared/data/complaints_labeled.csv` (subject, body, 7 first-level labels). A stratified
80/20 split with a fixed seed; the product model (`routing.textmodel.TextModel`) and the DESIGN's
plain pipeline (`plain_pipeline`: jieba words 1-2 + characters 1-3, TF-IDF, LinearSVC) train on
the same 80% and are scored on the same 20%. Every choice in the product model was made by
cross-validation on the 80% (grouped by exact text); the 20% is only scored.

The data keeps duplicate messages, so the test rows whose exact text is also in the training
part are counted, and macro-F1 is also given without them. Timing runs on one core (BLAS
threads pinned to 1); jieba's dictionary is loaded before the clocks start (a once-per-process
cost, not training). One split's macro-F1 moves by about half a point with the seed, so
`--also-seeds` scores the product and the baseline on more splits and prints their mean too
(before the RESULT line, which is always the stated seed's). Last line:

    RESULT macro_f1=<f> baseline_f1=<f> accuracy=<a> train_s=<s> predict_per_s=<n>
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: one core, as the goal is stated

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from the repo: `routing` is importable

from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from routing import segment  # noqa: E402
from routing.textmodel import TextModel, join_subject, plain_pipeline  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "complaints_labeled.csv"
SEED = 20261125


def load(path: Path) -> tuple[list[str], list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [join_subject(r["subject"], r["body"]) for r in rows], [r["label"] for r in rows]


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def macro(y_true: list[str], y_pred: list[str]) -> float:
    return float(f1_score(y_true, y_pred, average="macro"))


def other_split(texts: list[str], labels: list[str], seed: int) -> tuple[float, float]:
    """Macro-F1 of the product model and of the baseline on another stratified 80/20 split."""
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=seed)
    pred = TextModel().fit(x_train, y_train).predict(x_test)
    base_pred = list(plain_pipeline().fit(x_train, y_train).predict(x_test))
    return macro(y_test, pred), macro(y_test, base_pred)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--also-seeds", default="", help="more split seeds, comma-separated")
    args = ap.parse_args()
    extra = [int(s) for s in args.also_seeds.split(",") if s.strip()]

    texts, labels = load(args.data)
    labels_set = sorted(set(labels))
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=args.seed)
    print(f"data {args.data} rows={len(texts)} labels={len(labels_set)}")
    print(f"split stratified 80/20 seed={args.seed} train={len(x_train)} test={len(x_test)}")
    segment.tokenizer()  # jieba's dictionary: once per process, outside the clocks

    model = TextModel()
    _, train_s = timed(model.fit, x_train, y_train)
    pred, predict_s = timed(model.predict, x_test)
    base = plain_pipeline()
    _, base_train_s = timed(base.fit, x_train, y_train)
    base_pred, base_predict_s = timed(base.predict, x_test)
    base_pred = list(base_pred)

    f1, acc = macro(y_test, pred), float(accuracy_score(y_test, pred))
    base_f1, base_acc = macro(y_test, base_pred), float(accuracy_score(y_test, base_pred))
    per_s, base_per_s = len(x_test) / predict_s, len(x_test) / base_predict_s
    print()
    print(f"{'model':<10}{'macro-F1':>10}{'accuracy':>10}{'train s':>10}{'predict/s':>11}")
    print(f"{'product':<10}{f1:>10.4f}{acc:>10.4f}{train_s:>10.1f}{per_s:>11.0f}")
    print(f"{'baseline':<10}{base_f1:>10.4f}{base_acc:>10.4f}{base_train_s:>10.1f}{base_per_s:>11.0f}")

    p, r, f, n = precision_recall_fscore_support(y_test, pred, labels=labels_set)
    _, _, bf, _ = precision_recall_fscore_support(y_test, base_pred, labels=labels_set)
    print()
    print(f"{'label':<16}{'n':>6}{'precision':>11}{'recall':>9}{'F1':>8}{'baseline F1':>13}")
    for i, lab in enumerate(labels_set):
        pad = 16 - 2 * len(lab)  # CJK characters are two columns wide
        print(f"{lab}{' ' * max(pad, 1)}{n[i]:>6}{p[i]:>11.4f}{r[i]:>9.4f}{f[i]:>8.4f}{bf[i]:>13.4f}")

    seen = set(x_train)
    fresh = [i for i, t in enumerate(x_test) if t not in seen]
    n_dup = len(x_test) - len(fresh)
    sub = lambda ys: [ys[i] for i in fresh]  # noqa: E731
    print()
    print(f"test rows with an exact duplicate text in train: {n_dup} of {len(x_test)}")
    print(f"without them ({len(fresh)} rows): macro-F1 product={macro(sub(y_test), sub(pred)):.4f} "
          f"baseline={macro(sub(y_test), sub(base_pred)):.4f} "
          f"accuracy product={accuracy_score(sub(y_test), sub(pred)):.4f}")
    if extra:
        print()
        print(f"{'split seed':<12}{'product':>10}{'baseline':>10}")
        rows = [(args.seed, f1, base_f1)]
        rows += [(seed, *other_split(texts, labels, seed)) for seed in extra]
        for seed, pf, bf in rows:
            print(f"{seed:<12}{pf:>10.4f}{bf:>10.4f}", flush=True)
        print(f"{'mean':<12}{sum(r[1] for r in rows) / len(rows):>10.4f}"
              f"{sum(r[2] for r in rows) / len(rows):>10.4f}")
    print()
    print(f"RESULT macro_f1={f1:.4f} baseline_f1={base_f1:.4f} accuracy={acc:.4f} "
          f"train_s={train_s:.1f} predict_per_s={per_s:.0f}")


if __name__ == "__main__":
    main()
