"""hubmap: switched auxiliary loss for FTU segmentation, HuBMAP + HPA (results/table2.csv).

Data: two Kaggle-format exports (training: HPA; evaluation: HuBMAP), validated and split by
`split` (organ folds, the rebuilt public / private boards), then Vahadane-normalised once per
image. Prepared data in `data_dir`:

    splits.csv                  every image of both exports: source, set, fold, mask (RLE)
    stain_target.npz            the stain target fitted once   (prepare stain-target)
    images/<source>/<id>.npz    resized + normalised image and mask, one job per image
                                (prepare preprocess --item <source>/<id>)
"""

from __future__ import annotations

import logging
from pathlib import Path

from medbench.errors import ConfigError
from medbench.studies import Study, register_study
from medbench.studies.hubmap.layout import (
    EVALUATION_SETS,
    SOURCES,
    TOY_LAYOUT,
    cache_dir,
    exports,
    splits_file,
    stain_target_file,
)

log = logging.getLogger(__name__)


def _read_splits(data_dir: Path):
    from medbench.studies.hubmap.splits import read_hubmap_splits

    return read_hubmap_splits(splits_file(data_dir))


def _fit_stain_target(cfg: dict, data_dir: Path, item: str | None) -> None:
    from medbench.studies.hubmap.preprocess import fit_stain_target

    fit_stain_target(_read_splits(data_dir), exports(cfg), cfg, stain_target_file(data_dir))


def _preprocess(cfg: dict, data_dir: Path, item: str | None) -> None:
    """One image, `item` = <source>/<id>: resized and normalised into the per-image cache."""
    from medbench.studies.hubmap.preprocess import image_file, preprocess_image

    source, _, image_id = (item or "").partition("/")
    if source not in SOURCES or not image_id:
        raise ConfigError(f"prepare preprocess: --item must be <source>/<id> with source one of "
                          f"{list(SOURCES)}; got {item!r}")
    preprocess_image(_read_splits(data_dir), source, image_id, exports(cfg), cfg, stain_target_file(data_dir),
                     image_file(cache_dir(data_dir), source, image_id))


@register_study
class Hubmap(Study):
    name = "hubmap"
    test_sets = EVALUATION_SETS
    figure_kinds = ("organs", "stain", "masks")
    toy_layout = TOY_LAYOUT
    schema = Path(__file__).with_name("schema.yaml")

    def generate_toy(self, out_dir, params):
        from medbench.studies.hubmap.toy import ToyHubmapConfig, generate

        generate(out_dir, ToyHubmapConfig.from_dict(params))

    def split(self, cfg, data_dir):
        from medbench.fileio import write_csv
        from medbench.studies.hubmap.kaggle import read_train_table
        from medbench.studies.hubmap.splits import hubmap_splits, split_summary

        tables = {source: read_train_table(path / "train.csv", path / "train_images")
                  for source, path in exports(cfg).items()}
        splits = hubmap_splits(tables["training"], tables["evaluation"], cfg["split"], cfg["seed"])
        write_csv(splits_file(data_dir), splits)
        log.info("splits:\n%s", split_summary(splits).to_string(index=False))

    def steps(self):
        return {"stain-target": _fit_stain_target, "preprocess": _preprocess}

    def datasets(self, cfg, data_dir, protocol, names, seed, augment_train=True, fold=None, model=None):
        from medbench.studies.hubmap.dataset import split_datasets

        return split_datasets(cfg, data_dir, names, seed, augment_train)

    def predict(self, cfg, model, data_dir, protocol, out_dir, device, fold=None):
        from medbench.studies.hubmap.predict import predict_hubmap

        predict_hubmap(cfg, model, _read_splits(data_dir), cache_dir(data_dir), out_dir, device)

    def figures(self):
        from medbench.studies.hubmap.figures import masks_figure, organs_figure, stain_figure

        return {"organs": organs_figure, "stain": stain_figure, "masks": masks_figure}
