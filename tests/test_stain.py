"""Vahadane stain normalisation: medbench's deterministic implementation against staintools
(the reference), step by step and on the toy HPA / HuBMAP images; bad input named."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import spams
import staintools

from medbench.data.stain import fit_stain_target, load_stain_target
from medbench.data.stain.torch_backend import TorchBackend
from medbench.data.stain.vahadane import (
    NUMPY,
    OD_TABLE,
    SAMPLE_PIXELS,
    colour_counts,
    learn_stain_matrix,
    luminosity_standardized,
    nonnegative_lasso_2,
    percentile_of_nonnegative,
    tissue_mask,
    tissue_od_bins,
)
from medbench.errors import ConfigError, DataError
from medbench.studies.hubmap.kaggle import load_image
from medbench.studies.hubmap.toy import ToyHubmapConfig, generate

METHODS = ("vahadane", "staintools_vahadane")


def _tile(stain, seed, size=128):
    rng = np.random.default_rng(seed)
    tile = np.full((size, size, 3), 235, np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(25):
        cy, cx = rng.integers(0, size, 2)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < rng.integers(4, 14) ** 2
        tile[blob] = np.clip(np.array(stain) + rng.integers(-20, 20, 3), 0, 255)
    return tile


def _tissue_colour(image):
    tissue = image.mean(axis=2) < 200
    return image[tissue].mean(axis=0)


def mean_abs_od_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(OD_TABLE[a] - OD_TABLE[b]).mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_nonnegative_lasso_equals_spams(seed):
    rng = np.random.default_rng(seed)
    atoms = np.abs(rng.normal(size=(2, 3))) * rng.uniform(0.3, 1.0, (2, 1))  # not unit: the DL case
    od = np.abs(rng.normal(size=(3, 4000))) * rng.uniform(0, 2, 4000)
    od[:, :50] = 0  # background: no stain
    gram = (atoms[0] @ atoms[0], atoms[0] @ atoms[1], atoms[1] @ atoms[1])
    for lam in (0.01, 0.1):
        ours = np.stack(nonnegative_lasso_2(atoms[0] @ od, atoms[1] @ od, *gram, lam, np.where))
        theirs = spams.lasso(X=np.asfortranarray(od), D=np.asfortranarray(atoms.T), mode=2, lambda1=lam,
                             pos=True).toarray()
        np.testing.assert_allclose(ours, theirs, atol=1e-7)


def test_luminosity_standardiser_is_staintools_bit_for_bit():
    for seed in range(3):
        image = _tile((120, 60, 140), seed, size=97)
        image[:5] = np.random.default_rng(seed).integers(0, 256, (5, 97, 3))
        np.testing.assert_array_equal(luminosity_standardized(image),
                                      staintools.LuminosityStandardizer.standardize(image.copy()))


@pytest.mark.parametrize("method", METHODS)
def test_normalised_tissue_takes_the_targets_colour(method):
    target, source = _tile((120, 60, 140), 0), _tile((150, 90, 40), 1)  # purple vs brown
    normalised = fit_stain_target(method, target)(source, "source")
    assert normalised.shape == source.shape and normalised.dtype == np.uint8
    before = np.linalg.norm(_tissue_colour(source) - _tissue_colour(target))
    after = np.linalg.norm(_tissue_colour(normalised) - _tissue_colour(target))
    assert after < 0.5 * before


@pytest.mark.parametrize("method", METHODS)
def test_input_is_not_modified(method):
    target, source = _tile((120, 60, 140), 0), _tile((150, 90, 40), 1)
    source[0, 0] = 0  # staintools overwrites zero pixels in place
    kept = source.copy()
    fit_stain_target(method, target)(source)
    np.testing.assert_array_equal(source, kept)


def test_bad_images_are_named():
    normalizer = fit_stain_target("vahadane", _tile((120, 60, 140), 0))
    with pytest.raises(DataError, match="^10044: stain normalisation needs an RGB uint8"):
        normalizer(np.zeros((8, 8), np.uint8), "10044")
    with pytest.raises(DataError, match="^blank target: no tissue"):
        fit_stain_target("vahadane", np.full((64, 64, 3), 250, np.uint8), name="blank target")
    with pytest.raises(DataError, match="^id 7: no tissue"):
        normalizer(np.full((64, 64, 3), 250, np.uint8), "id 7")
    with pytest.raises(DataError, match="^id 8: the image is black"):
        normalizer(np.zeros((64, 64, 3), np.uint8), "id 8")
    with pytest.raises(DataError, match="^blank target: Vahadane \\(staintools\\) failed"):
        fit_stain_target("staintools_vahadane", np.full((64, 64, 3), 250, np.uint8), name="blank target")
    with pytest.raises(ConfigError, match="unknown method 'macenko'"):
        fit_stain_target("macenko", _tile((120, 60, 140), 0))


def test_saved_target_normalises_exactly_like_the_fitted_one(tmp_path):
    target, image = _tile((120, 60, 140), 0), _tile((150, 90, 40), 1)
    fitted = fit_stain_target("vahadane", target)
    fitted.save(tmp_path / "target.npz")
    loaded = load_stain_target(tmp_path / "target.npz")
    assert type(loaded) is type(fitted) and loaded.iterations == fitted.iterations
    np.testing.assert_array_equal(loaded(image, "tile"), fitted(image, "tile"))
    np.testing.assert_array_equal(loaded.stain_matrix, fitted.stain_matrix)


def test_loading_something_else_names_the_file(tmp_path):
    path = tmp_path / "target.npz"
    np.savez(path, other=np.zeros(2))
    with pytest.raises(DataError, match="target.npz: not a saved stain target"):
        load_stain_target(path)


DIGEST = """
import hashlib, sys, numpy as np
from medbench.data.stain import fit_stain_target
sys.path.insert(0, {tests!r})
from test_stain import _tile
normalizer = fit_stain_target("vahadane", _tile((120, 60, 140), 0, 192))
out = normalizer(_tile((150, 90, 40), 1, 192), "tile")
print(hashlib.sha256(normalizer.stain_matrix.tobytes() + out.tobytes()).hexdigest())
"""


def test_same_bytes_on_every_run_and_thread_count():
    script = DIGEST.format(tests=os.path.dirname(__file__))
    digests = set()
    for threads in ("1", "2", "1"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
               "MKL_NUM_THREADS": threads}
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr
        digests.add(run.stdout.strip())
    assert len(digests) == 1


@pytest.fixture(scope="module")
def toy_images(tmp_path_factory):
    """One toy image per organ and source: HPA (DAB + hematoxylin) and HuBMAP (PAS, H&E)."""
    out = tmp_path_factory.mktemp("stain") / "hubmap"
    generate(out, ToyHubmapConfig.from_dict({"size": 192, "images_scale": 0.05, "hubmap_per_organ": 1}))
    images = {}
    for source in ("hpa", "hubmap"):
        table = pd.read_csv(out / source / "train.csv", dtype={"id": str})
        for row in table.groupby("organ").head(1).itertuples():
            images[f"{source} {row.organ}"] = load_image(out / source / "train_images", row.id)
    return images


def _every_tissue_colour(image, mask):
    colours, counts = colour_counts(image[mask])
    return OD_TABLE[colours.T], counts.astype(float)


def test_colour_counts():
    pixels = np.array([[255, 0, 7], [1, 2, 3], [255, 0, 7], [1, 2, 4]], np.uint8)
    colours, counts = colour_counts(pixels)
    np.testing.assert_array_equal(colours, [[1, 2, 3], [1, 2, 4], [255, 0, 7]])
    np.testing.assert_array_equal(counts, [1, 1, 2])


def test_colour_bins_sum_the_tissue_sample():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (800, 800, 3), dtype=np.uint8)
    mask = rng.random((800, 800)) < 0.5
    od, counts = tissue_od_bins(image, mask)
    stride = 2  # 320k tissue pixels: every second pixel both ways holds >= SAMPLE_PIXELS of them
    sample = image[::stride, ::stride][mask[::stride, ::stride]]
    assert counts.sum() == len(sample) >= SAMPLE_PIXELS
    np.testing.assert_allclose((od * counts).sum(axis=1), OD_TABLE[sample].sum(axis=0), rtol=1e-9)
    assert od.shape[1] == counts.size <= 64 ** 3
    small = mask.copy()
    small[100:] = False  # 40k tissue pixels: all of them are read
    assert tissue_od_bins(image, small)[1].sum() == small.sum()


def test_learning_on_colour_bins_lands_where_learning_on_every_colour_does(toy_images):
    """The bins replace each tissue colour's OD by its bin's mean: the atoms move by less than
    5e-3 (3e-4 on most images; most on the darkest, thick PAS kidney section)."""
    for name, image in toy_images.items():
        prepared = luminosity_standardized(image)
        mask = tissue_mask(prepared)
        exact = learn_stain_matrix(*_every_tissue_colour(prepared, mask), 10_000, tol=1e-10)
        binned = learn_stain_matrix(*tissue_od_bins(prepared, mask), 1000)
        assert np.abs(binned - exact).max() < 5e-3, name


@pytest.mark.slow  # staintools spends its one-second dictionary budget on every image
def test_close_to_staintools_on_every_toy_stain_and_organ(toy_images):
    """The issue's bound: mean |dOD| <= 0.02 against staintools on every image."""
    target = toy_images["hpa kidney"]
    ours, theirs = fit_stain_target("vahadane", target), fit_stain_target("staintools_vahadane", target)
    np.testing.assert_allclose(ours.stain_matrix, theirs.stain_matrix, atol=0.02)
    differences = {name: mean_abs_od_difference(ours(image, name), theirs(image, name))
                   for name, image in toy_images.items()}
    assert len(differences) == 10
    assert max(differences.values()) <= 0.02, differences



def test_percentile_of_mostly_zero_concentrations_equals_numpys():
    rng = np.random.default_rng(0)
    cases = ((1000, 0.9), (1000, 0.995), (999, 0.0), (50_000, 0.8), (7, 0.5), (100, 1.0), (1, 0.0))
    for n, zero_share in cases:
        values = rng.random(n).astype(np.float32)
        values[rng.random(n) < zero_share] = 0
        for q in (0, 50, 99, 100):
            expected = float(np.percentile(values, q))
            assert percentile_of_nonnegative(values, q) == pytest.approx(expected, abs=1e-6)


def test_torch_backend_equals_numpy_up_to_rounding():
    """The GPU path's maths, run by torch on the CPU: the same concentrations and output."""
    normalizer = fit_stain_target("vahadane", _tile((120, 60, 140), 0))
    image = normalizer.prepared(_tile((150, 90, 40), 1), "tile")
    matrix, numpy_c = normalizer.stains_and_concentrations(image, "tile")
    torch_backend = TorchBackend("cpu")
    torch_c = torch_backend.concentrations(image, matrix)
    for ours, theirs in zip(torch_c, numpy_c, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-5)
    np.testing.assert_allclose(torch_backend.percentiles(torch_c), NUMPY.percentiles(numpy_c), rtol=1e-5)
    scale = normalizer.max_concentrations / NUMPY.percentiles(numpy_c)
    by_torch = torch_backend.recolour(torch_c, scale, normalizer.stain_matrix, image.shape)
    by_numpy = NUMPY.recolour(numpy_c, scale, normalizer.stain_matrix, image.shape)
    assert np.abs(by_torch.astype(int) - by_numpy).max() <= 1
