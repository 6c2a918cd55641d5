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

PREPARED["bus"] = lambda wc: [*BUS_CACHE, BUS_SPLITS]

# the models a figure draws: the table's overlaid multitask models, or all its models
bus_figure_models = lambda wc: (  # noqa: E731
    [m for m in BUS_OVERLAID if m in table_models(wc.table)] if wc.kind == "overlays" else table_models(wc.table)
)


if config["data_kind"] == "toy":
    BUS_TOY_ROOT = study_toy_root("bus")

    # synthetic BUSI, BUSIS, Dataset B and HMSS exports in their real layouts
    TOY["bus"] = ({"root": directory(BUS_TOY_ROOT)}, lambda out: out.root)


use rule prepare_step as bus_ingest with:
    """Every image and mask of the configured datasets validated (all problems listed, nothing
    written then), BUSI masks merged, HMSS cropped, padded to square, resized; duplicates found."""
    input:
        BUS_TOY_ROOT if config["data_kind"] == "toy" else BUS_RAW_FILES,
    output:
        BUS_CACHE,
        duplicates=f"{BUS_DATA}/duplicates.csv",
    params:
        **step_params("bus", "prepare ingest", ("data", "raw"),
                      lambda wildcards, output: os.path.dirname(output.duplicates)),
    log:
        f"{PATHS['logs']}/bus/ingest.log",


use rule prepare_step as bus_split with:
    """5-fold cross-validation by case (duplicates kept together), stratified by label; the
    leakage report must be all zeros."""
    input:
        BUS_CACHE,
    output:
        splits=BUS_SPLITS,
        leakage=f"{BUS_DATA}/leakage.csv",
    params:
        **step_params("bus", "split", ("seed", "split"), lambda wildcards, output: os.path.dirname(output.splits)),
    log:
        f"{PATHS['logs']}/bus/split.log",


rule bus_figure:
    """bus's figures: ground truth vs each multitask model's predicted tumour mask on the same
    test images (`overlays`); ROC curves per cross-validation fold of every classifier (`roc_folds`)."""
    input:
        metrics=lambda wc: run_files(wc.table, "metrics.json", bus_figure_models(wc)),
        predictions=lambda wc: run_files(wc.table, "predictions", bus_figure_models(wc)),
        data=lambda wc: BUS_CACHE if wc.kind == "overlays" else [],
    output:
        figure_entry("{table}", "{kind}"),
    wildcard_constraints:
        table=result_tables("bus"),
        kind="overlays|roc_folds",
    params:
        **table_params("seed", "test_sets", "data", "tables", "figures"),
        caption=lambda wc: figure_caption("bus", wc.kind),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/bus/{{table}}_figure_{{kind}}.log",
    shell:
        "medbench figure {wildcards.kind} --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --data {params.data} --out {output} > {log} 2>&1"
