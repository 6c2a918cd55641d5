"""Toy HuBMAP + HPA exports: Kaggle format, organ imbalance, FTUs, stain and resolution shift."""

from __future__ import annotations

import numpy as np
import pytest

from medbench.data.stain.vahadane import colour_counts
from medbench.errors import ConfigError
from medbench.studies.hubmap.kaggle import load_image, load_mask, read_train_table
from medbench.studies.hubmap.toy import (
    DAB,
    EOSIN,
    HEMATOXYLIN,
    HPA_PIXEL_SIZE,
    HPA_THICKNESS,
    HUBMAP,
    REAL_SIDE,
    ToyHubmapConfig,
    ftu_mask,
    generate,
    render,
)

SMALL = {"size": 96, "images_scale": 0.05, "hubmap_per_organ": 2}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "hubmap"
    generate(out, ToyHubmapConfig.from_dict(SMALL))
    return out


def test_both_sources_read_as_kaggle_data(export):
    hpa = read_train_table(export / "hpa" / "train.csv", export / "hpa" / "train_images")
    hubmap = read_train_table(export / "hubmap" / "train.csv", export / "hubmap" / "train_images")
    assert set(hpa["data_source"]) == {"HPA"} and set(hubmap["data_source"]) == {"HuBMAP"}
    counts = hpa["organ"].value_counts()
    assert counts["kidney"] >= counts["prostate"] >= counts["lung"] >= 5  # the real imbalance
    assert set(hpa["pixel_size"]) == {0.4}
    assert hubmap.set_index("organ")["pixel_size"].to_dict()["prostate"] == pytest.approx(6.263)
    assert not set(hpa["id"]) & set(hubmap["id"])


def test_every_image_has_ftus_and_the_stains_differ(export):
    colours = {}
    for source in ("hpa", "hubmap"):
        table = read_train_table(export / source / "train.csv", export / source / "train_images")
        ftu_colour = []
        for _, row in table.iterrows():
            mask = load_mask(row).astype(bool)
            image = load_image(export / source / "train_images", row["id"])
            if row["pixel_size"] < 2:  # prostate's 6.3 µm HuBMAP pixels may shrink FTUs to nothing
                assert mask.any(), row["id"]
            if mask.any():
                ftu_colour.append(image[mask].mean(axis=0))
        colours[source] = np.mean(ftu_colour, axis=0)
    hpa, hubmap = colours["hpa"], colours["hubmap"]
    assert hpa[2] < hpa[0]          # DAB: brown, less blue than red
    assert hubmap[2] > hubmap[1]    # eosin / PAS: pink-magenta, more blue than green
    assert np.linalg.norm(hpa - hubmap) > 20


@pytest.mark.parametrize(("stains", "pixel_size", "thickness"), [
    ((HEMATOXYLIN, DAB), HPA_PIXEL_SIZE, HPA_THICKNESS),      # HPA kidney
    ((HEMATOXYLIN, EOSIN), *HUBMAP["prostate"]),              # the palest and coarsest HuBMAP
])
def test_images_have_a_real_scans_colour_diversity(stains, pixel_size, thickness):
    """A real 768 px scan has 100k+ distinct colours (a real IHC photograph: 142k): the
    Vahadane benchmark and the toy run must meet that, not a clean few-level rendering."""
    rng = np.random.default_rng(0)
    um_per_px = pixel_size * REAL_SIDE / 768
    image = render(ftu_mask("kidney", 768, um_per_px, rng), stains, thickness, um_per_px, rng)
    assert colour_counts(image.reshape(-1, 3))[1].size >= 100_000
    background = image.mean(axis=2) > 225
    assert 0.03 < background.mean() < 0.5  # gaps in the section, not an empty slide


def test_deterministic_and_validated(tmp_path):
    a = generate(tmp_path / "a", ToyHubmapConfig.from_dict(SMALL))
    b = generate(tmp_path / "b", ToyHubmapConfig.from_dict(SMALL))
    assert a["hpa"].equals(b["hpa"])
    with pytest.raises(ConfigError, match="unknown parameter"):
        ToyHubmapConfig.from_dict({"sise": 3})
    with pytest.raises(ConfigError, match="unknown organ"):
        ToyHubmapConfig.from_dict({"organs": ["liver"]})
