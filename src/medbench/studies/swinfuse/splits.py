"""swinfuse splits (config/studies/swinfuse.yaml `split`): one table of roles (train | val |
test) for every volume.

- Pre-training (SynthRAD): by patient, `val_fraction` of each centre's patients validate; a
  patient's CT and MR share a role [ours]. The released code split by volume, which puts most
  validation patients' other modality in training: `pretrain_leakage.csv` counts that leakage
  for both protocols on this data.
- BraTS 2021: fold `test_fold` of the folds JSON is the test set [code's held-out fold];
  `val_fraction` of the other cases select the model [ours: the code selects and reports on
  the held-out fold].
- MSD tasks: a seeded `test_fraction` of the cases test [code: 80/20]; `val_fraction` of the
  rest validate [ours].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medbench.errors import DataError


def _take(items: list, fraction: float, rng) -> set:
    """A seeded `fraction` (at least one) of `items`."""
    order = rng.permutation(len(items))
    return {items[i] for i in order[: max(1, round(fraction * len(items)))]}


def _pretrain_roles(index: pd.DataFrame, cfg: dict, rng) -> pd.Series:
    synthrad = index[index["dataset"] == "synthrad"]
    val = set()
    for _, centre in synthrad.groupby("centre"):
        val |= _take(sorted(centre["patient"].unique()), cfg["val_fraction"], rng)
    return synthrad["patient"].map(lambda p: "val" if p in val else "train")


def pretrain_leakage(index: pd.DataFrame, roles: pd.Series, cfg: dict, seed: int) -> pd.DataFrame:
    """Validation patients whose other modality trains: our patient split vs the code's
    volume split (a seeded `val_fraction` of the volumes, as its JSON lists were made)."""
    synthrad = index[index["dataset"] == "synthrad"]
    code_val = _take(list(synthrad.index), cfg["val_fraction"], np.random.default_rng(seed))
    code_roles = pd.Series(
        ["val" if i in code_val else "train" for i in synthrad.index], index=synthrad.index
    )
    rows = []
    for protocol, role in (("ours: by patient", roles), ("code: by volume", code_roles)):
        frame = synthrad.assign(role=role)
        val_patients = set(frame.loc[frame["role"] == "val", "patient"])
        train_patients = set(frame.loc[frame["role"] == "train", "patient"])
        rows.append(
            {
                "protocol": protocol,
                "val_volumes": int((frame["role"] == "val").sum()),
                "val_patients": len(val_patients),
                "val_patients_with_a_training_volume": len(val_patients & train_patients),
            }
        )
    return pd.DataFrame(rows)


def _task_roles(cases: pd.DataFrame, spec: dict, cfg: dict, rng) -> pd.Series:
    ids = sorted(cases["case_id"])
    if spec["dataset"] == "brats21":
        test = set(cases.loc[cases["fold"].astype(int) == cfg["test_fold"], "case_id"])
        if not test:
            raise DataError(f"split: no BraTS case in fold {cfg['test_fold']} (split.test_fold)")
    else:
        test = _take(ids, cfg["test_fraction"], rng)
    val = _take([c for c in ids if c not in test], cfg["val_fraction"], rng)
    return cases["case_id"].map(lambda c: "test" if c in test else "val" if c in val else "train")


def make_splits(index: pd.DataFrame, cfg: dict, tasks: dict, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(splits, pretraining leakage report)."""
    rng = np.random.default_rng(seed)
    roles = _pretrain_roles(index, cfg["pretrain"], rng)
    parts = [index.loc[roles.index, ["dataset", "case_id"]].assign(role=roles)]
    for task, spec in tasks.items():
        cases = index[index["dataset"] == task]
        parts.append(cases[["dataset", "case_id"]].assign(role=_task_roles(cases, spec, cfg["tasks"], rng)))
    return pd.concat(parts, ignore_index=True), pretrain_leakage(index, roles, cfg["pretrain"], seed)
