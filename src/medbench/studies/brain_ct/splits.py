"""Hospital splits of the brain_ct study, and the report of patients they leak.

`paper` (the paper's §4.1.2, slice level):
  - test_h1_4: `test_fraction` of the test hospital's slices (paper: 10% of hospital 1, 179);
  - train / val: the rest of the training hospitals (1-4) split (1 - val_fraction) / val_fraction;
  - test_h5_11: as many slices as test_h1_4 drawn from the shift hospitals (5-11) with the same
    positive ratio.
  Slices of one patient may sit in train and test_h1_4: the paper's own caveat.

`patient_disjoint`: the same proportions, but every split above is grouped by patient, so no
patient has slices on both sides. Stratified group folds approximate the fractions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medbench.errors import ConfigError, DataError
from medbench.studies.brain_ct.layout import PROTOCOLS, TEST_SETS


def _holdout(frame: pd.DataFrame, fraction: float, label: str, seed: int, grouped: bool):
    """Split `frame` into (rest, held-out) of about `fraction` of its slices, stratified by label."""
    # sklearn is imported here, not at the top: every pipeline step is a fresh process, and
    # only the split step needs it.
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    if grouped:
        n_splits = max(2, round(1 / fraction))
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        rest_idx, held_idx = next(folds.split(frame, frame[label], groups=frame["patient_id"]))
        return frame.iloc[rest_idx], frame.iloc[held_idx]
    stratify = frame[label] if frame[label].value_counts().min() >= 2 else None
    return train_test_split(frame, test_size=fraction, stratify=stratify, random_state=seed)


def _matched_sample(pool: pd.DataFrame, n: int, positive_ratio: float, label: str, seed: int):
    n_pos = int(round(n * positive_ratio))
    pos, neg = pool[pool[label] == 1], pool[pool[label] == 0]
    if n_pos > len(pos) or n - n_pos > len(neg):
        raise DataError(
            f"shift hospitals have {len(pos)} positive / {len(neg)} negative slices; "
            f"cannot draw {n_pos} / {n - n_pos} to match the hospital-1 test set"
        )
    return pd.concat([pos.sample(n_pos, random_state=seed), neg.sample(n - n_pos, random_state=seed)])


def make_split(index: pd.DataFrame, cfg: dict, protocol: str, seed: int) -> pd.Series:
    """Return a Series (indexed like `index`) naming each slice's split, '' for unused slices."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown split protocol '{protocol}'; known: {PROTOCOLS}")
    label, grouped = cfg["label"], protocol == "patient_disjoint"
    for key in ("test_hospital", "train_hospitals", "shift_hospitals"):
        hospitals = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
        absent = sorted(set(hospitals) - set(index["hospital"]))
        if absent:
            raise DataError(f"split.{key}: hospital(s) {absent} have no slices in the data")
    split = pd.Series("", index=index.index, dtype=object)

    test_hosp = index[index["hospital"] == cfg["test_hospital"]]
    rest_h1, test_h1 = _holdout(test_hosp, cfg["test_fraction"], label, seed, grouped)
    pool = pd.concat([rest_h1, index[index["hospital"].isin(
        [h for h in cfg["train_hospitals"] if h != cfg["test_hospital"]])]])
    train, val = _holdout(pool, cfg["val_fraction"], label, seed, grouped)
    shift_pool = index[index["hospital"].isin(cfg["shift_hospitals"])]
    test_shift = _matched_sample(shift_pool, len(test_h1), test_h1[label].mean(), label, seed)

    for name, part in (("train", train), ("val", val), ("test_h1_4", test_h1),
                       ("test_h5_11", test_shift)):
        split.loc[part.index] = name
    return split


def make_splits(index: pd.DataFrame, cfg: dict, seed: int, protocols=PROTOCOLS) -> pd.DataFrame:
    """The protocols side by side: columns slice_id, patient_id, hospital, <label>, split_<protocol>."""
    out = index[["slice_id", "patient_id", "hospital", cfg["label"]]].copy()
    for protocol in protocols:
        out[f"split_{protocol}"] = make_split(index, cfg, protocol, seed)
    return out


def _protocols(splits: pd.DataFrame) -> list[str]:
    return [column.removeprefix("split_") for column in splits.columns if column.startswith("split_")]


def leakage_report(splits: pd.DataFrame) -> pd.DataFrame:
    """Per protocol and test set: how many test patients (and slices) also appear in training."""
    rows = []
    for protocol in _protocols(splits):
        col = splits[f"split_{protocol}"]
        train_patients = set(splits.loc[col == "train", "patient_id"])
        val_patients = set(splits.loc[col == "val", "patient_id"])
        for test_set in TEST_SETS:
            test = splits[col == test_set]
            patients = set(test["patient_id"])
            rows.append({
                "protocol": protocol,
                "test_set": test_set,
                "test_slices": len(test),
                "test_patients": len(patients),
                "patients_shared_with_train": len(patients & train_patients),
                "patients_shared_with_val": len(patients & val_patients),
                "slices_of_shared_patients": int(test["patient_id"].isin(train_patients).sum()),
            })
    return pd.DataFrame(rows)


def split_summary(splits: pd.DataFrame, label: str) -> pd.DataFrame:
    rows = []
    for protocol in _protocols(splits):
        col = splits[f"split_{protocol}"]
        for name in ("train", "val", *TEST_SETS):
            part = splits[col == name]
            rows.append({"protocol": protocol, "split": name, "slices": len(part),
                         "patients": part["patient_id"].nunique(),
                         "positive_ratio": round(float(part[label].mean()), 4) if len(part) else np.nan})
    return pd.DataFrame(rows)


def leakage_section(leakage: pd.DataFrame) -> list[str]:
    """Markdown lines of one protocol's leakage report (the end of results/table1.md)."""
    lines = ["## Patient leakage of this split", "",
             "Test patients that also have slices in the training split: the paper splits slices, "
             "so neighbouring slices of one patient can sit on both sides; the `patient_disjoint` "
             "protocol (results/table1_patient_disjoint.md) keeps patients apart.", "",
             "| test set | test slices | test patients | patients also in train | their test slices |",
             "|---|---|---|---|---|"]
    for r in leakage.itertuples():
        lines.append(f"| {r.test_set} | {r.test_slices} | {r.test_patients} | "
                     f"{r.patients_shared_with_train} | {r.slices_of_shared_patients} |")
    return [*lines, ""]
