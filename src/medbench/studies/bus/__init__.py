"""bus: Hybrid-MT-ESTAN, breast-ultrasound classification + segmentation
(results/table3.csv = the paper's Table 2, results/table4.csv = its Table 3).

Data: BUSI, BUSIS, Dataset B and HMSS in their real layouts (`prepare ingest` -> one image
cache), 5-fold cross-validation by case (`split`); every model is trained once per fold and
tested on its fold's test images. Prepared data in `data_dir`:

    images/{images,masks}.npy, images/index.csv   padded, resized images and merged masks
    duplicates.csv                                 images with an equal average hash
    splits.csv, leakage.csv                        roles per fold; cases in two roles (zeros)
"""

from __future__ import annotations

import logging
from pathlib import Path

from medbench.studies import Study, register_study
from medbench.studies.bus.layout import TEST_SETS, TOY_LAYOUT, cache_dir, leakage_file, splits_file

log = logging.getLogger(__name__)


def _ingest(cfg: dict, data_dir: Path, item: str | None) -> None:
    from medbench.studies.bus.ingest import ingest
    from medbench.studies.bus.readers import read_datasets

    records = read_datasets(cfg.get("raw") or {}, cfg["data"].get("include_normal", False))
    ingest(records, cache_dir(data_dir), cfg["data"]["image_size"], cfg["data"].get("mask_resize", "nearest"))


@register_study
class Bus(Study):
    name = "bus"
    test_sets = TEST_SETS
    figure_kinds = ("overlays", "roc_folds")
    toy_layout = TOY_LAYOUT
    schema = Path(__file__).with_name("schema.yaml")

    def generate_toy(self, out_dir, params):
        from medbench.studies.bus.toy import ToyBusConfig, generate

        generate(out_dir, ToyBusConfig.from_dict(params))

    def steps(self):
        return {"ingest": _ingest}

    def split(self, cfg, data_dir):
        from medbench.data.cache import ImageCache
        from medbench.fileio import write_csv
        from medbench.studies.bus.splits import check_leakage, cross_validation, leakage_report

        index = ImageCache.load(cache_dir(data_dir)).index
        splits = cross_validation(index, cfg["split"], cfg["seed"])
        leakage = leakage_report(splits, index)
        check_leakage(leakage, str(splits_file(data_dir)))
        write_csv(splits_file(data_dir), splits)
        write_csv(leakage_file(data_dir), leakage)
        log.info("folds:\n%s", leakage.to_string(index=False))

    def folds(self, cfg, model=None):
        return list(range(cfg["split"]["n_folds"]))

    def datasets(self, cfg, data_dir, protocol, names, seed, augment_train=True, fold=None, model=None):
        import pandas as pd

        from medbench.data.cache import ImageCache
        from medbench.studies.bus.dataset import BusDataset
        from medbench.studies.bus.splits import fold_rows

        cache = ImageCache.load(cache_dir(data_dir))
        splits = pd.read_csv(splits_file(data_dir))
        out = {}
        for name in names:
            transform = None
            if name == "train" and augment_train:
                from medbench.data.transforms import build_augmentation

                transform = build_augmentation(cfg.get("augmentation"), seed)
            out[name] = BusDataset(cache, fold_rows(splits, cache.index, fold, name), transform)
        return out

    def predict(self, cfg, model, data_dir, protocol, out_dir, device, fold=None):
        from medbench.studies.bus.predict import predict_fold

        for test_set, dataset in self.datasets(
            cfg, data_dir, protocol, self.test_sets, cfg["seed"], fold=fold
        ).items():
            predict_fold(model, dataset, test_set, out_dir, device)

    def evaluate(self, cfg, pred_dir):
        from medbench.studies.bus.evaluation import evaluate_folds

        return evaluate_folds(
            pred_dir, list(cfg["test_sets"]), cfg["evaluation"].get("bootstrap_samples", 1000), cfg["seed"]
        )

    def figures(self):
        from medbench.studies.bus.figures import overlay_figure, roc_folds_figure

        return {"overlays": overlay_figure, "roc_folds": roc_folds_figure}
