# bus's own rules: the four datasets -> one image cache -> 5-fold case-grouped split (prepared
# data in <interim>/bus), and its own figures (overlays, ROC per fold). Training to tables:
# pipeline.smk (each model's job trains and predicts its five folds).
BUS_DATA = data_dir("bus")
BUS_RAW = config["bus"]["raw"]
BUS_CACHE = multiext(f"{BUS_DATA}/images/", "images.npy", "masks.npy", "index.csv")
BUS_SPLITS = f"{BUS_DATA}/splits.csv"
BUS_FIGURES = STUDY["bus"].get("figures", {})
BUS_OVERLAID = figure_models("bus", BUS_FIGURES.get("overlays", {"models": []}))
# the file whose presence says a dataset's export is complete (the toy writes it last of its dataset)
BUS_INDEX_FILES = {"busi": "", "busis": "BUSIS562.csv", "dataset_b": "DatasetB.xlsx", "hmss": "HMSS.csv"}
BUS_RAW_FILES = [f"{BUS_RAW[k]}/{name}" if name else BUS_RAW[k] for k, name in BUS_INDEX_FILES.items() if BUS_RAW.get(k)]

# the toy generator writes every dataset under one root, in the real folder names
BUS_TOY_LAYOUT = {"busi": "Dataset_BUSI_with_GT", "busis": "BUSIS", "dataset_b": "DatasetB", "hmss": "HMSS",
                  "hmss_masks": "HMSS/masks_private"}

PREPARED["bus"] = lambda wc: [*BUS_CACHE, BUS_SPLITS]
bus_overlaid = lambda wc: [m for m in BUS_OVERLAID if m in table_models(wc.table)]  # noqa: E731  (a table's own)
STUDY_FIGURES["bus"] = (["overlays"] if BUS_OVERLAID else []) + (["roc_folds"] if "roc_folds" in BUS_FIGURES else [])


if config["data_kind"] == "toy":
    BUS_TOY_ROOT = os.path.commonpath([BUS_RAW[k] for k in BUS_TOY_LAYOUT if BUS_RAW.get(k)])
    if any(os.path.normpath(BUS_RAW[k]) != os.path.join(BUS_TOY_ROOT, name) for k, name in BUS_TOY_LAYOUT.items()
           if BUS_RAW.get(k)):
        raise ValueError(f"config: with toy data, bus.raw must name the generator's folders {BUS_TOY_LAYOUT} "
                         f"under one root; got {BUS_RAW}")

    # synthetic BUSI, BUSIS, Dataset B and HMSS exports in their real layouts
    TOY["bus"] = ({"root": directory(BUS_TOY_ROOT)}, lambda out: out.root)


rule bus_ingest:
    """Every image and mask of the configured datasets validated (all problems listed, nothing
    written then), BUSI masks merged, HMSS cropped, padded to square, resized; duplicates found."""
    input:
        BUS_TOY_ROOT if config["data_kind"] == "toy" else BUS_RAW_FILES,
    output:
        BUS_CACHE,
        duplicates=f"{BUS_DATA}/duplicates.csv",
    params:
        study=config["bus"]["study_config"],
        override=resolved("bus", "data", "raw"),
        data=lambda wildcards, output: os.path.dirname(output.duplicates),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/bus/ingest.log",
    shell:
        "medbench prepare ingest --config {params.study} --override {params.override:q} "
        "--data {params.data} > {log} 2>&1"


rule bus_split:
    """5-fold cross-validation by case (duplicates kept together), stratified by label; the
    leakage report must be all zeros."""
    input:
        BUS_CACHE,
    output:
        splits=BUS_SPLITS,
        leakage=f"{BUS_DATA}/leakage.csv",
    params:
        study=config["bus"]["study_config"],
        override=resolved("bus", "seed", "split"),
        data=lambda wildcards, output: os.path.dirname(output.splits),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/bus/split.log",
    shell:
        "medbench split --config {params.study} --override {params.override:q} --data {params.data} > {log} 2>&1"


BUS_FIGURE_PARAMS = table_params("seed", "test_sets", "data", "tables", "figures")


rule bus_figure_overlays:
    """Ground truth vs each multitask model's predicted tumour mask on the same test images."""
    input:
        metrics=lambda wc: run_files(wc.table, "metrics.json", bus_overlaid(wc)),
        predictions=lambda wc: run_files(wc.table, "predictions", bus_overlaid(wc)),
        data=BUS_CACHE,
    output:
        figure_entry("{table}", "overlays"),
    wildcard_constraints:
        table=result_tables("bus"),
    params:
        **BUS_FIGURE_PARAMS,
        caption=figure_caption("bus", "overlays"),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/bus/{{table}}_figure_overlays.log",
    shell:
        "medbench figure overlays --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --data {params.data} --out {output} > {log} 2>&1"


rule bus_figure_roc_folds:
    """ROC curves per cross-validation fold of every classifier."""
    input:
        unpack(report_inputs),
    output:
        figure_entry("{table}", "roc_folds"),
    wildcard_constraints:
        table=result_tables("bus"),
    params:
        **BUS_FIGURE_PARAMS,
        caption=figure_caption("bus", "roc_folds"),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/bus/{{table}}_figure_roc_folds.log",
    shell:
        "medbench figure roc_folds --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --data {params.data} --out {output} > {log} 2>&1"
