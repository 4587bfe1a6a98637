"""Complaint-text understanding: jieba segmentation and two linear classifiers (cause, need).

Pure Python (no Django). Features are jieba words (dictionary mode, no HMM: new words are
caught by the character bigrams instead, and it is twice as fast) plus character bigrams,
digits folded to one token, hashed (no vocabulary to fit or ship) and TF-IDF weighted.
Logistic regression gives calibrated-enough probabilities for the confidence an analyst
sorts by. Nothing is downloaded: jieba's dictionary ships in its wheel and the model is
trained by ``keycare complaints train`` from the synthetic operator's texts.

A trained model is a directory ``<models>/<version>/`` with ``model.joblib`` and
``model.json`` (taxonomy version, training size, metrics); ``<models>/current`` names the
version in use.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from keycare.errors import UserError

N_FEATURES = 2**19
CHUNK = 20_000
_DIGITS = re.compile(r"[0-9０-９]+(?:\.[0-9]+)?")
_KEEP = re.compile(r"[\u4e00-\u9fffA-Za-z0]")
_CHAR = re.compile(r"[\u4e00-\u9fffA-Za-z0]")
_CLAUSE = re.compile(r"[，。！？、；：,.!?;:\s]+")
_jieba = None


def _segmenter():
    global _jieba
    if _jieba is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _jieba = jieba
    return _jieba


def tokens(text: str) -> list[str]:
    """jieba words and character bigrams of ``text`` (numbers folded to ``0``)."""
    text = _DIGITS.sub("0", text or "")
    words = [w for clause in _CLAUSE.split(text) if clause for w in _clause_words(clause)]
    chars = _CHAR.findall(text)
    return words + [a + b for a, b in zip(chars, chars[1:], strict=False)]


@lru_cache(maxsize=200_000)
def _clause_words(clause: str) -> tuple:
    """jieba's words of one clause. Complaints repeat clauses (要求退费, 请尽快处理...): a
    clause is segmented once per process. jieba splits at punctuation itself, so the words
    are those of the whole text."""
    return tuple(w for w in _segmenter().lcut(clause, HMM=False) if _KEEP.match(w))


def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer=tokens, n_features=N_FEATURES, alternate_sign=False, norm=None
    )


@dataclass
class TextModel:
    taxonomy_version: int
    tfidf: object
    cause: object
    need: object
    meta: dict = field(default_factory=dict)
    # P(need | cause) from the training labels (rows: cause.classes_, columns: need.classes_),
    # the taxonomy's mapping from a cause to what its customers ask for; None in models
    # trained before it existed.
    need_given_cause: np.ndarray | None = None

    @property
    def version(self) -> str:
        return self.meta.get("version", "")

    def features(self, texts: Sequence[str]):
        return self.tfidf.transform(_vectorizer().transform(texts))

    def predict(self, texts: Sequence[str], workers: int = 1, progress=None) -> list[dict]:
        """Per text {cause, need, confidence, cause_confidence, need_confidence}."""
        texts = [t if isinstance(t, str) else "" for t in texts]
        chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
        out: list[dict] = []
        if workers > 1 and len(chunks) > 1:
            global _SHARED
            _SHARED = self
            with get_context("fork").Pool(workers) as pool:
                for rows in pool.imap(_predict_shared, chunks):
                    out += rows
                    _report(progress, len(out), len(texts))
        else:
            for chunk in chunks:
                out += self._predict_chunk(chunk)
                _report(progress, len(out), len(texts))
        return out

    def _predict_chunk(self, texts: list[str]) -> list[dict]:
        x = self.features(texts)
        cause_p, need_p = self.cause.predict_proba(x), self.need.predict_proba(x)
        need_p = self.combine_need(cause_p, need_p)
        ci, ni = cause_p.argmax(1), need_p.argmax(1)
        cp, np_ = cause_p[np.arange(len(ci)), ci], need_p[np.arange(len(ni)), ni]
        causes, needs = self.cause.classes_[ci], self.need.classes_[ni]
        return [
            {
                "cause": str(c),
                "need": str(n),
                "confidence": round(float(min(a, b)), 4),
                "cause_confidence": round(float(a), 4),
                "need_confidence": round(float(b), 4),
            }
            for c, n, a, b in zip(causes, needs, cp, np_, strict=True)
        ]

    def combine_need(self, cause_p: np.ndarray, need_p: np.ndarray) -> np.ndarray:
        """The need classifier's probabilities times what the likely causes' customers ask
        for (sum over causes of P(cause | text) P(need | cause)), renormalised: a text that
        states no demand, or states it in words the classifier never saw, leans on its
        cause. Unweighted product of the two (no tuned exponent)."""
        if self.need_given_cause is None:
            return need_p
        joint = need_p * (cause_p @ self.need_given_cause)
        return joint / joint.sum(axis=1, keepdims=True)


def need_given_cause(causes, needs, cause_classes, need_classes, weights=None) -> np.ndarray:
    """P(need | cause) from labelled texts, add-one smoothed (every need stays possible)."""
    row = {c: i for i, c in enumerate(cause_classes)}
    col = {n: j for j, n in enumerate(need_classes)}
    counts = np.ones((len(cause_classes), len(need_classes)))
    weights = np.ones(len(causes)) if weights is None else np.asarray(weights, dtype=float)
    for cause, need, w in zip(causes, needs, weights, strict=True):
        counts[row[cause], col[need]] += w
    return counts / counts.sum(axis=1, keepdims=True)


_SHARED: TextModel | None = None


def _predict_shared(chunk):
    return _SHARED._predict_chunk(chunk)


def _report(progress, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def train(
    texts: Sequence[str],
    causes: Sequence[str],
    needs: Sequence[str],
    taxonomy_version: int,
    weights: Sequence[float] | None = None,
) -> TextModel:
    """``weights``: per-text sample weights (analysts' corrections weigh more than generated
    texts); None weighs every text 1."""
    from sklearn.feature_extraction.text import TfidfTransformer

    started = time.monotonic()
    counts = _vectorizer().transform(texts)
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    x = tfidf.transform(counts)
    weights = None if weights is None else np.asarray(weights, dtype=float)
    cause = _classifier().fit(x, causes, sample_weight=weights)
    need = _classifier().fit(x, needs, sample_weight=weights)
    mapping = need_given_cause(causes, needs, cause.classes_, need.classes_, weights)
    meta = {
        "taxonomy_version": taxonomy_version,
        "trained_on": len(texts),
        "train_seconds": round(time.monotonic() - started, 2),
        "features": "jieba 0.42.1 words (HMM off) + char bigrams, hashed 2^19, tf-idf",
        "classifier": "logistic-loss SGD (scikit-learn), one for cause, one for need; "
        "need probabilities times P(need | predicted cause) from the training labels",
    }
    return TextModel(taxonomy_version, tfidf, cause, need, meta, mapping)


def _classifier():
    from sklearn.linear_model import SGDClassifier

    # Logistic loss (probabilities for the confidence), a few passes: seconds, not minutes.
    return SGDClassifier(loss="log_loss", alpha=2e-6, max_iter=15, tol=None, random_state=0)


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return round(float(f1_score(truth, predicted, average="macro")), 4)


def evaluate(model: TextModel, texts, causes, needs) -> dict:
    rows = model.predict(texts)
    return {
        "rows": len(texts),
        "cause_macro_f1": macro_f1(causes, [r["cause"] for r in rows]),
        "need_macro_f1": macro_f1(needs, [r["need"] for r in rows]),
        "cause_accuracy": round(
            float(np.mean([r["cause"] == c for r, c in zip(rows, causes, strict=True)])), 4
        ),
    }


# --- storage ----------------------------------------------------------------------------


def save(model: TextModel, models_dir: Path) -> Path:
    import joblib

    version = time.strftime("%Y%m%d-%H%M%S") + f"-t{model.taxonomy_version}"
    model.meta["version"] = version
    target = Path(models_dir) / version
    target.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, target / "model.joblib", compress=3)
    (target / "model.json").write_text(
        json.dumps(model.meta, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    tmp = Path(models_dir) / ".current.tmp"
    tmp.write_text(version, encoding="utf-8")
    os.replace(tmp, Path(models_dir) / "current")
    return target


def load(models_dir: Path, taxonomy_version: int) -> TextModel:
    """The current model; UserError (saying which command to run) when there is none or it was
    trained on another taxonomy version."""
    import joblib

    pointer = Path(models_dir) / "current"
    if not pointer.exists():
        raise UserError(
            "投诉文本模型尚未训练，请先运行 keycare complaints train "
            "(no complaint-text model yet: run 'keycare complaints train')"
        )
    model = joblib.load(
        Path(models_dir) / pointer.read_text(encoding="utf-8").strip() / "model.joblib"
    )
    if model.taxonomy_version != taxonomy_version:
        raise UserError(
            f"投诉文本模型基于分类体系 v{model.taxonomy_version}，当前为 v{taxonomy_version}，"
            "请重新运行 keycare complaints train (model trained on another taxonomy version)"
        )
    return model


Progress = Callable[[int, int], None]
