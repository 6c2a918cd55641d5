"""What the Snakefile reads from every registered study without importing its heavy code: the
names of its own figures (they must be what it draws) and where its toy generator writes."""

from __future__ import annotations

import pytest

from medbench.data.toy import toy_root
from medbench.errors import ConfigError
from medbench.studies import get_study, list_studies

LAYOUT = {"busi": "Dataset_BUSI_with_GT", "hmss": "HMSS", "hmss_masks": "HMSS/masks_private"}


@pytest.mark.parametrize("name", list_studies())
def test_figure_kinds_are_the_figures_the_study_draws(name):
    study = get_study(name)
    assert sorted(study.figure_kinds) == sorted(study.figures())


@pytest.mark.parametrize("raw, root", [
    ({"busi": "data/raw/bus/Dataset_BUSI_with_GT", "hmss": "data/raw/bus/HMSS",
      "hmss_masks": "data/raw/bus/HMSS/masks_private"}, "data/raw/bus"),
    ({"busi": "data/raw/bus/Dataset_BUSI_with_GT/"}, "data/raw/bus"),  # one dataset configured
    ({"busi": "Dataset_BUSI_with_GT", "hmss": None}, "."),
])
def test_the_toy_root_is_where_every_configured_dataset_sits(raw, root):
    assert toy_root("bus", raw, LAYOUT) == root


@pytest.mark.parametrize("raw", [
    {"busi": "data/raw/bus/BUSI"},  # not the generator's folder name
    {"busi": "data/raw/a/Dataset_BUSI_with_GT", "hmss": "data/raw/b/HMSS"},  # two roots
    {"busi": "data/raw/bus/xDataset_BUSI_with_GT"},
    {},  # nothing configured
])
def test_a_raw_path_the_generator_does_not_write_is_refused(raw):
    with pytest.raises(ConfigError, match="bus.raw must name the generator's paths"):
        toy_root("bus", raw, LAYOUT)
