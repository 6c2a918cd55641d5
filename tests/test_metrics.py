"""Our metric definitions agree with scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    jaccard_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from medbench.metrics import binary_iou, binary_log_loss, classification_metrics, roc_auc


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    probs = np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1).round(2)  # ties on purpose
    ours = classification_metrics(labels, probs)
    pred = (probs >= 0.5).astype(int)
    assert ours["acc"] == pytest.approx(accuracy_score(labels, pred))
    assert ours["prec"] == pytest.approx(precision_score(labels, pred))
    assert ours["rec"] == pytest.approx(recall_score(labels, pred))
    assert ours["f1"] == pytest.approx(f1_score(labels, pred, average="macro"))
    assert ours["auc"] == pytest.approx(roc_auc_score(labels, probs))


def test_macro_f1_reproduces_the_papers_resnet_row():
    """Paper Table 1, ResNet152 on Hospital 1-4: prec .655, rec .333 -> binary F1 .442, but the
    paper reports .692: only the macro average of both classes fits (with acc .901)."""
    n, n_pos, tp, fp = 179, 21, 7, 4  # the paper's 179 test slices; rec 7/21 = .333
    labels = np.r_[np.ones(n_pos), np.zeros(n - n_pos)]
    probs = np.r_[np.ones(tp), np.zeros(n_pos - tp), np.ones(fp), np.zeros(n - n_pos - fp)]
    m = classification_metrics(labels, probs)
    assert m["acc"] == pytest.approx(0.901, abs=0.005)
    assert m["f1"] == pytest.approx(0.692, abs=0.005)
    assert 2 * m["prec"] * m["rec"] / (m["prec"] + m["rec"]) == pytest.approx(0.44, abs=0.01)


def test_auc_undefined_with_one_class():
    assert np.isnan(roc_auc([1, 1, 1], [0.2, 0.4, 0.9]))


def test_zero_division_gives_zero_like_sklearn():
    m = classification_metrics([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])  # predicts no positive
    assert m["prec"] == precision_score([0, 0, 1, 1], [0, 0, 0, 0], zero_division=0) == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_binary_iou_matches_sklearn_jaccard(seed):
    rng = np.random.default_rng(seed)
    pred, target = rng.random((4, 16, 16)) > 0.6, rng.random((4, 16, 16)) > 0.7
    assert binary_iou(pred, target) == pytest.approx(jaccard_score(target.ravel(), pred.ravel()))
    assert np.isnan(binary_iou(np.zeros(4), np.zeros(4)))


def test_binary_log_loss_is_the_cross_entropy_of_the_positive_probability():
    labels, probs = np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.6])
    expected = -np.mean(np.log([0.9, 0.8, 0.4, 0.4]))
    assert binary_log_loss(labels, probs) == pytest.approx(expected)
    # AUC 1.0 with every probability below 0.5 still costs a high loss: what the monitor sees
    assert binary_log_loss(np.array([1, 0]), np.array([0.3, 0.1])) > 0.6
