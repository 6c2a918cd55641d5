"""brain_ct: MTL-Swin-Unet / Joint-SwinTransformer, brain-CT hypodensity (results/table1.csv).

Data: a DICOM export with a manifest CSV (`prepare ingest` -> slice cache), split by hospital
(`split` -> splits.csv with one column per protocol, leakage.csv). Prepared data in `data_dir`:

    slices/{images,masks}.npy, slices/index.csv    the windowed, resized slice cache
    splits.csv, leakage.csv                        every protocol's split, test patients in training
"""

from __future__ import annotations

import logging
from pathlib import Path

from medbench.errors import ConfigError
from medbench.studies import Study, register_study
from medbench.studies.brain_ct.layout import (
    PROTOCOLS,
    TEST_SETS,
    leakage_file,
    manifest,
    slices_dir,
    splits_file,
)

log = logging.getLogger(__name__)


def _ingest(cfg: dict, data_dir: Path, item: str | None) -> None:
    from medbench.studies.brain_ct.ingest import ingest

    ingest(manifest(cfg), slices_dir(data_dir), cfg["data"]["image_size"], cfg["data"]["window"])


@register_study
class BrainCT(Study):
    name = "brain_ct"
    test_sets = TEST_SETS
    figure_kinds = ("gradcam", "overlays")
    schema = Path(__file__).with_name("schema.yaml")

    def generate_toy(self, out_dir, params):
        from medbench.studies.brain_ct.toy import ToyBrainCTConfig, generate

        generate(out_dir, ToyBrainCTConfig.from_dict(params))

    def steps(self):
        return {"ingest": _ingest}

    def split(self, cfg, data_dir):
        from medbench.data.cache import ImageCache
        from medbench.fileio import write_csv
        from medbench.studies.brain_ct.splits import leakage_report, make_splits, split_summary

        index = ImageCache.load(slices_dir(data_dir)).index
        splits = make_splits(index, cfg["split"], cfg["seed"], cfg["protocols"])
        leakage = leakage_report(splits)
        write_csv(splits_file(data_dir), splits)
        write_csv(leakage_file(data_dir), leakage)
        log.info("splits:\n%s", split_summary(splits, cfg["split"]["label"]).to_string(index=False))
        log.info("leakage (test patients also in train):\n%s", leakage.to_string(index=False))

    def datasets(self, cfg, data_dir, protocol, names, seed, augment_train=True, fold=None, model=None):
        from medbench.studies.brain_ct.dataset import slice_datasets

        return slice_datasets(cfg, data_dir, protocol, names, seed, augment_train)

    def predict(self, cfg, model, data_dir, protocol, out_dir, device, fold=None):
        from medbench.evaluate.predict import predict_test_sets

        datasets = self.datasets(cfg, data_dir, protocol, self.test_sets, cfg["seed"])
        predict_test_sets(model, datasets, out_dir, device, id_column="slice_id",
                          sample_ids=lambda dataset, rows: dataset.cache.index["slice_id"].to_numpy()[rows])

    def table_sections(self, cfg, data_dir, protocol, runs=None):
        import pandas as pd

        from medbench.studies.brain_ct.splits import leakage_section

        leakage = pd.read_csv(leakage_file(data_dir))
        return leakage_section(leakage[leakage["protocol"] == protocol])

    def figures(self):
        from medbench.studies.brain_ct.figures import gradcam_figure, overlay_figure

        return {"gradcam": gradcam_figure, "overlays": overlay_figure}

    def check_config(self, cfg, source):
        super().check_config(cfg, source)
        unknown = [p for p in cfg["protocols"] if p not in PROTOCOLS]
        if unknown:
            raise ConfigError(f"{source}: protocols {unknown} are not brain_ct split protocols; known: "
                              f"{list(PROTOCOLS)}")
