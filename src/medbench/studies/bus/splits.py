"""bus cross-validation (busbench's protocol, `Predefined folds.ipynb`, made reproducible): k folds
by case, stratified by label; in each fold the test block is one fold's groups, a `val_fraction`
share of the remaining groups validates (drawn per label), the rest trains. A group is a case
plus every copy of its images (`group` of the cache index), so no case and no copy of an image
sits in two roles of one fold; every image is tested once.

splits.csv: one row per image and fold (sample_id, fold, role); leakage.csv: per fold, the
groups (and cases) found in more than one role -- it must be all zeros, and the split step stops
if it is not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medbench.errors import ConfigError, DataError


def _group_folds(labels, groups, n_splits: int, seed: int, stratified: bool):
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    if stratified:
        return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(
            labels, labels, groups
        )
    return GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(labels, labels, groups)


def _validation_groups(labels, groups, fraction: float, seed: int, stratified: bool) -> np.ndarray:
    """Positions of the validation images among the non-test ones: floor(fraction x groups) case
    groups (busbench takes floor(0.15 n) cases), drawn within each label's groups in proportion
    when stratified (a group's label: its images' most common one)."""
    table = pd.DataFrame({"group": groups, "label": labels})
    group_label = table.groupby("group")["label"].agg(lambda s: s.mode().iloc[0])
    wanted = max(1, int(np.floor(fraction * len(group_label))))
    strata = group_label.groupby(group_label if stratified else 0).groups
    shares = {k: wanted * len(v) / len(group_label) for k, v in strata.items()}
    counts = {k: int(np.floor(v)) for k, v in shares.items()}
    by_remainder = sorted(shares, key=lambda k: shares[k] - counts[k], reverse=True)
    for k in by_remainder[: wanted - sum(counts.values())]:
        counts[k] += 1  # largest remainders first: the counts sum to `wanted`
    rng = np.random.default_rng(seed)
    chosen = [g for k, members in strata.items()
              for g in rng.choice(sorted(members), size=min(counts[k], len(members)), replace=False)]
    return np.flatnonzero(table["group"].isin(chosen).to_numpy())


def cross_validation(index: pd.DataFrame, cfg: dict, seed: int) -> pd.DataFrame:
    """Roles of every image in every fold."""
    n_folds, val_fraction = cfg["n_folds"], cfg["val_fraction"]
    groups = index["group"].to_numpy()
    if len(set(groups)) < n_folds:
        raise ConfigError(f"split: {len(set(groups))} case groups cannot make {n_folds} folds")
    labels = index["label"].to_numpy()
    rows = []
    folds = _group_folds(labels, groups, n_folds, seed, cfg.get("stratified", True))
    for fold, (rest, test) in enumerate(folds):
        roles = np.full(len(index), "train", dtype=object)
        roles[test] = "test"
        val = _validation_groups(labels[rest], groups[rest], val_fraction, seed + fold,
                                 cfg.get("stratified", True))
        roles[rest[val]] = "val"
        rows.append(pd.DataFrame({"sample_id": index["sample_id"], "fold": fold, "role": roles}))
    return pd.concat(rows, ignore_index=True)


def leakage_report(splits: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """Per fold: groups and cases that appear in more than one role (must be 0)."""
    merged = splits.merge(index[["sample_id", "group", "case_id"]], on="sample_id")
    rows = []
    for fold, part in merged.groupby("fold"):
        rows.append(
            {
                "fold": fold,
                **{
                    f"{unit}s_in_two_roles": int((part.groupby(unit)["role"].nunique() > 1).sum())
                    for unit in ("group", "case_id")
                },
                **{f"{role}_images": int((part["role"] == role).sum()) for role in ("train", "val", "test")},
            }
        )
    return pd.DataFrame(rows)


def check_leakage(leakage: pd.DataFrame, where: str) -> None:
    bad = leakage[(leakage["groups_in_two_roles"] > 0) | (leakage["case_ids_in_two_roles"] > 0)]
    if len(bad):
        raise DataError(f"{where}: cases shared between roles in fold(s) {list(bad['fold'])}")


def fold_rows(splits: pd.DataFrame, index: pd.DataFrame, fold: int, role: str) -> np.ndarray:
    """Cache rows of one fold's role."""
    part = splits[(splits["fold"] == fold) & (splits["role"] == role)]
    if part.empty:
        raise DataError(f"split: fold {fold} has no {role} images")
    position = {sid: i for i, sid in enumerate(index["sample_id"])}
    return np.array([position[sid] for sid in part["sample_id"]])
