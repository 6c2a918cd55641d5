"""Metrics of the papers' tables, written out so each definition is visible (and tested
against scikit-learn).

brain_ct Table 1: acc; prec and rec of the positive class; f1 = MACRO average of both classes'
F1 (the paper's numbers are only consistent with macro F1: ResNet152 prec .655 / rec .333 /
f1 .692 is impossible as binary F1); ROC-AUC; iou-seg = binary IoU of the foreground,
pooled over all pixels of the slices with masks.

hubmap Table 2: Dice = 2|X ∩ Y| / (|X| + |Y|) per image (paper eq. 1), averaged over images
(Kaggle's metric); an image where both are empty scores 1.

bus Tables 2/3: `binary_classification_metrics` and `overlap_per_image` (busbench's definitions).
"""

from __future__ import annotations

import numpy as np


def _safe_div(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def binary_log_loss(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean binary cross-entropy of the positive-class probabilities (scikit-learn's log loss):
    the classification loss on held-out data, which, unlike the AUC, sees whether the
    probabilities sit on the right side of a threshold."""
    from sklearn.metrics import log_loss

    return float(log_loss(np.asarray(labels).astype(int), np.asarray(probs, float), labels=[0, 1]))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve = P(score_pos > score_neg) + 0.5 P(tie); NaN with one class."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores), float)
    # average ranks over ties (1-based)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _thresholded(labels, probs, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=float)
    return np.asarray(labels).astype(int), probs, (probs >= threshold).astype(int)


def _confusion(labels: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    """tp, tn, fp, fn of 0/1 predictions."""
    return (int(((pred == 1) & (labels == 1)).sum()), int(((pred == 0) & (labels == 0)).sum()),
            int(((pred == 1) & (labels == 0)).sum()), int(((pred == 0) & (labels == 1)).sum()))


def classification_metrics(labels, probs, threshold: float = 0.5) -> dict[str, float]:
    labels, probs, pred = _thresholded(labels, probs, threshold)
    tp, tn, fp, fn = _confusion(labels, pred)
    prec_pos, rec_pos = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    prec_neg, rec_neg = _safe_div(tn, tn + fn), _safe_div(tn, tn + fp)
    f1_pos = _safe_div(2 * prec_pos * rec_pos, prec_pos + rec_pos)
    f1_neg = _safe_div(2 * prec_neg * rec_neg, prec_neg + rec_neg)
    return {
        "acc": _safe_div(tp + tn, len(labels)),
        "prec": prec_pos,
        "rec": rec_pos,
        "f1": (f1_pos + f1_neg) / 2,
        "auc": roc_auc(labels, probs),
    }


def binary_iou(pred: np.ndarray, target: np.ndarray) -> float:
    """Foreground IoU pooled over every pixel given; NaN when both are empty."""
    pred, target = np.asarray(pred).astype(bool), np.asarray(target).astype(bool)
    union = np.logical_or(pred, target).sum()
    return float(np.logical_and(pred, target).sum() / union) if union else float("nan")


def dice_per_image(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Dice of every image of (N, H, W) binary arrays; 1 where both are empty."""
    pred = np.asarray(pred).astype(bool).reshape(len(pred), -1)
    target = np.asarray(target).astype(bool).reshape(len(target), -1)
    inter = (pred & target).sum(axis=1)
    total = pred.sum(axis=1) + target.sum(axis=1)
    return np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 1.0)


def binary_classification_metrics(labels, probs, threshold: float = 0.5) -> dict[str, float]:
    """bus (Hybrid-MT-ESTAN Table 2/3; busbench's `evaluate`): positive = malignant.

    f1 is the binary F1 of the positive class; `auc` is ROC-AUC of the 0/1 predictions, as the
    authors' code computes it (so auc = (sens + spec) / 2), `auc_prob` that of the probabilities.
    """
    labels, probs, pred = _thresholded(labels, probs, threshold)
    tp, tn, fp, fn = _confusion(labels, pred)
    sens, spec, prec = _safe_div(tp, tp + fn), _safe_div(tn, tn + fp), _safe_div(tp, tp + fp)
    return {
        "acc": _safe_div(tp + tn, len(labels)), "sens": sens, "spec": spec,
        "f1": _safe_div(2 * prec * sens, prec + sens), "auc": roc_auc(labels, pred),
        "auc_prob": roc_auc(labels, probs), "fnr": _safe_div(fn, fn + tp), "fpr": _safe_div(fp, fp + tn),
    }


def overlap_per_image(pred: np.ndarray, target: np.ndarray, eps: float = 1e-7
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(DSC, Jaccard) of every image of (N, H, W) binary arrays, smoothed as busbench's
    `seg_metrics`: (2tp + eps) / (2tp + fp + fn + eps), (tp + eps) / (tp + fp + fn + eps), so an
    image where both are empty scores 1."""
    pred = np.asarray(pred).astype(bool).reshape(len(pred), -1)
    target = np.asarray(target).astype(bool).reshape(len(target), -1)
    tp = (pred & target).sum(axis=1)
    wrong = (pred ^ target).sum(axis=1)
    return (2 * tp + eps) / (2 * tp + wrong + eps), (tp + eps) / (tp + wrong + eps)
