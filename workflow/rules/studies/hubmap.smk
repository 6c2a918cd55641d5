# hubmap's own rules: Kaggle-format exports -> split (+ validation) -> stain target -> one
# preprocessing job per image (resize + Vahadane), prepared data in <interim>/hubmap; and its
# own figures (organs, stain, masks). Training to tables: pipeline.smk.
HUBMAP_DATA = data_dir("hubmap")
HUBMAP_RAW = config["hubmap"]["raw"]
HUBMAP_TRAIN_CSVS = {source: f"{HUBMAP_RAW[f'{source}_export']}/train.csv" for source in ("training", "evaluation")}
HUBMAP_SPLITS = f"{HUBMAP_DATA}/splits.csv"
HUBMAP_STAIN_TARGET = f"{HUBMAP_DATA}/stain_target.npz"


# the splits and every preprocessed image of the split table (known once its checkpoint ran)
PREPARED["hubmap"] = lambda wc: [
    HUBMAP_SPLITS,
    *checkpoint_files(checkpoints.hubmap_split, f"{HUBMAP_DATA}/images/{{source}}/{{id}}.npz", ("source", "id")),
]


wildcard_constraints:
    hubmap_source="training|evaluation",


if config["data_kind"] == "toy":
    study_toy_root("hubmap")  # the generator writes both exports under one root

    # synthetic HPA (training) and HuBMAP (evaluation) exports in Kaggle's format
    TOY["hubmap"] = (HUBMAP_TRAIN_CSVS, lambda out: os.path.dirname(os.path.dirname(out.training)))


checkpoint hubmap_split:
    """Validate both exports (every malformed RLE, missing or mis-sized TIFF, unknown organ is
    named; nothing is written then), then folds by organ and the evaluation sets. A checkpoint:
    its table decides which per-image preprocessing jobs exist."""
    input:
        **HUBMAP_TRAIN_CSVS,
    output:
        splits=HUBMAP_SPLITS,
    params:
        study=config["hubmap"]["study_config"],
        override=resolved("hubmap", "seed", "split", "raw"),
        data=lambda wildcards, output: os.path.dirname(output.splits),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/hubmap/split.log",
    shell:
        "medbench split --config {params.study} --override {params.override:q} --data {params.data} > {log} 2>&1"


use rule prepare_step as hubmap_stain_target with:
    """Fit Vahadane once on the configured target image; every image's job reuses it."""
    input:
        splits=HUBMAP_SPLITS,
    output:
        HUBMAP_STAIN_TARGET,
    params:
        **step_params("hubmap", "prepare stain-target", ("data", "stain", "raw"),
                      lambda wildcards, output: os.path.dirname(output[0])),
    log:
        f"{PATHS['logs']}/hubmap/stain_target.log",


use rule prepare_step as hubmap_preprocess with:
    """One image: resize, Vahadane-normalise (cached: runs once per image, not per model)."""
    input:
        splits=HUBMAP_SPLITS,
        target=HUBMAP_STAIN_TARGET,
    output:
        f"{HUBMAP_DATA}/images/{{hubmap_source}}/{{image_id}}.npz",
    params:
        # <data>/images/<source>/<id>.npz; one thread: many of these jobs run side by side
        **step_params("hubmap", "prepare preprocess", ("data", "stain", "raw"),
                      lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output[0]))),
                      env="OMP_NUM_THREADS=1 ", item=lambda wc: f" --item {wc.hubmap_source}/{wc.image_id}"),
    threads: 1
    log:
        f"{PATHS['logs']}/hubmap/preprocess/{{hubmap_source}}_{{image_id}}.log",


rule hubmap_figure:
    """hubmap's figures: the paper's Fig. 2 and Fig. 1 (`organs`: organs of the training export, an
    overlay per organ), Fig. 5 (`stain`: an evaluation image before and after stain
    normalisation), Fig. 6 and 8 (`masks`: every model's and loss's predicted mask on one image)."""
    input:
        splits=HUBMAP_SPLITS,
        data=lambda wc: PREPARED["hubmap"](wc) if wc.kind != "organs" else [],
        metrics=lambda wc: run_files(wc.table, "metrics.json") if wc.kind == "masks" else [],
        predictions=lambda wc: run_files(wc.table, "predictions") if wc.kind == "masks" else [],
    output:
        figure_entry("{table}", "{kind}"),
    wildcard_constraints:
        table=result_tables("hubmap"),
        kind="organs|stain|masks",
    params:
        **table_params("seed", "test_sets", "data", "split", "stain", "table", "figures", "raw"),
        caption=lambda wc: figure_caption("hubmap", wc.kind),
        # the runs whose predictions a figure draws (masks), none for the data figures
        metrics=lambda wildcards, input: f"--metrics {' '.join(input.metrics)} " if input.metrics else "",
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/hubmap/{{table}}_figure_{{kind}}.log",
    shell:
        "medbench figure {wildcards.kind} --config {params.study} --override {params.override:q} "
        "{params.metrics}--data {params.data} --out {output} > {log} 2>&1"
