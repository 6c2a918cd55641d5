# hubmap's own rules: Kaggle-format exports -> split (+ validation) -> stain target -> one
# preprocessing job per image (resize + Vahadane), prepared data in <interim>/hubmap; and its
# own figures (organs, stain, masks). Training to tables: pipeline.smk.
HUBMAP_DATA = data_dir("hubmap")
HUBMAP_RAW = config["hubmap"]["raw"]
HUBMAP_TRAIN_CSVS = {source: f"{HUBMAP_RAW[f'{source}_export']}/train.csv" for source in ("training", "evaluation")}
HUBMAP_SPLITS = f"{HUBMAP_DATA}/splits.csv"
HUBMAP_STAIN_TARGET = f"{HUBMAP_DATA}/stain_target.npz"
HUBMAP_FIGURES = STUDY["hubmap"].get("figures", {})
# data figures always; masks when configured
STUDY_FIGURES["hubmap"] = [name for name in ("organs", "stain", "masks") if name in HUBMAP_FIGURES]


# the splits and every preprocessed image of the split table (known once its checkpoint ran)
PREPARED["hubmap"] = lambda wc: [
    HUBMAP_SPLITS,
    *checkpoint_files(checkpoints.hubmap_split, f"{HUBMAP_DATA}/images/{{source}}/{{id}}.npz", ("source", "id")),
]


wildcard_constraints:
    hubmap_source="training|evaluation",


if config["data_kind"] == "toy":
    # the generator writes <root>/hpa and <root>/hubmap: the configured exports must be those
    HUBMAP_TOY_ROOT = os.path.dirname(os.path.normpath(HUBMAP_RAW["training_export"]))
    if [os.path.normpath(HUBMAP_RAW[f"{s}_export"]) for s in ("training", "evaluation")] != [
        os.path.join(HUBMAP_TOY_ROOT, name) for name in ("hpa", "hubmap")
    ]:
        raise ValueError(f"config: with toy data, hubmap exports must be <dir>/hpa and <dir>/hubmap; got {HUBMAP_RAW}")

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


rule hubmap_stain_target:
    """Fit Vahadane once on the configured target image; every image's job reuses it."""
    input:
        splits=HUBMAP_SPLITS,
    output:
        HUBMAP_STAIN_TARGET,
    params:
        study=config["hubmap"]["study_config"],
        override=resolved("hubmap", "data", "stain", "raw"),
        data=lambda wildcards, output: os.path.dirname(output[0]),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/hubmap/stain_target.log",
    shell:
        "medbench prepare stain-target --config {params.study} --override {params.override:q} "
        "--data {params.data} > {log} 2>&1"


rule hubmap_preprocess:
    """One image: resize, Vahadane-normalise (cached: runs once per image, not per model)."""
    input:
        splits=HUBMAP_SPLITS,
        target=HUBMAP_STAIN_TARGET,
    output:
        f"{HUBMAP_DATA}/images/{{hubmap_source}}/{{image_id}}.npz",
    params:
        study=config["hubmap"]["study_config"],
        override=resolved("hubmap", "data", "stain", "raw"),
        # <data>/images/<source>/<id>.npz
        data=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output[0]))),
    threads: 1
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/hubmap/preprocess/{{hubmap_source}}_{{image_id}}.log",
    shell:
        "OMP_NUM_THREADS=1 medbench prepare preprocess --config {params.study} --override {params.override:q} "
        "--data {params.data} --item {wildcards.hubmap_source}/{wildcards.image_id} > {log} 2>&1"


HUBMAP_FIGURE_PARAMS = table_params("seed", "test_sets", "data", "split", "stain", "table", "figures", "raw")


rule hubmap_figure_organs:
    """The paper's Fig. 2 (organs of the training export) and Fig. 1 (an overlay per organ)."""
    input:
        HUBMAP_SPLITS,
    output:
        figure_entry("{table}", "organs"),
    wildcard_constraints:
        table=result_tables("hubmap"),
    params:
        **HUBMAP_FIGURE_PARAMS,
        caption=figure_caption("hubmap", "organs"),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/hubmap/{{table}}_figure_organs.log",
    shell:
        "medbench figure organs --config {params.study} --override {params.override:q} "
        "--data {params.data} --out {output} > {log} 2>&1"


rule hubmap_figure_stain:
    """The paper's Fig. 5: an evaluation image before and after stain normalisation."""
    input:
        PREPARED["hubmap"],
    output:
        figure_entry("{table}", "stain"),
    wildcard_constraints:
        table=result_tables("hubmap"),
    params:
        **HUBMAP_FIGURE_PARAMS,
        caption=figure_caption("hubmap", "stain"),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/hubmap/{{table}}_figure_stain.log",
    shell:
        "medbench figure stain --config {params.study} --override {params.override:q} "
        "--data {params.data} --out {output} > {log} 2>&1"


rule hubmap_figure_masks:
    """The paper's Fig. 6 and 8: every model's and loss's predicted mask on one image."""
    input:
        unpack(report_inputs),
        data=PREPARED["hubmap"],
    output:
        figure_entry("{table}", "masks"),
    wildcard_constraints:
        table=result_tables("hubmap"),
    params:
        **HUBMAP_FIGURE_PARAMS,
        caption=figure_caption("hubmap", "masks"),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/hubmap/{{table}}_figure_masks.log",
    shell:
        "medbench figure masks --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --data {params.data} --out {output} > {log} 2>&1"
