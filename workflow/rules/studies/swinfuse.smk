# swinfuse's own rules: the datasets validated into one index (nothing copied: training reads
# the NIfTI files), the pre-training and downstream splits (prepared data in <interim>/swinfuse),
# and its own figures. Pre-training and fine-tuning runs are models of the generic train rule:
# a row's `requires` names its pre-training run, whose model.pt its training takes.

SWINFUSE_DATA = data_dir("swinfuse")
SWINFUSE_RAW = config["swinfuse"]["raw"]
SWINFUSE_INDEX = f"{SWINFUSE_DATA}/volumes.csv"
SWINFUSE_SPLITS = f"{SWINFUSE_DATA}/splits.csv"
SWINFUSE_FIGURES = STUDY["swinfuse"].get("figures", {})
PREPARED["swinfuse"] = lambda wc: [SWINFUSE_INDEX, SWINFUSE_SPLITS]
# the table's notes: the cohorts' overlap, the pre-training split's leakage, and every pre-training
# run's collapse monitor (metrics.csv of the runs the table's rows start from)
TABLE_DATA["swinfuse"] = lambda wc: [
    f"{SWINFUSE_DATA}/overlap.csv",
    f"{SWINFUSE_DATA}/pretrain_leakage.csv",
    *run_files(wc.table, "metrics.csv", required_models(STUDY["swinfuse"], table_models(wc.table))),
]


if config["data_kind"] == "toy":
    SWINFUSE_TOY_ROOT = study_toy_root("swinfuse")

    # synthetic SynthRAD2023, BraTS 2021 and MSD Task01 / Task10 volumes in their layouts
    TOY["swinfuse"] = ({"root": directory(SWINFUSE_TOY_ROOT)}, lambda out: out.root)


use rule prepare_step as swinfuse_ingest with:
    """Every volume read and checked (shape, grid, label codes; all problems listed, nothing
    written then), the index the splits and datasets read, and the BraTS / MSD overlap."""
    input:
        SWINFUSE_TOY_ROOT if config["data_kind"] == "toy" else [path for path in SWINFUSE_RAW.values() if path],
    output:
        index=SWINFUSE_INDEX,
        overlap=f"{SWINFUSE_DATA}/overlap.csv",
    params:
        **step_params("swinfuse", "prepare ingest", ("data", "raw", "tasks"),
                      lambda wildcards, output: os.path.dirname(output.index)),
    log:
        f"{PATHS['logs']}/swinfuse/ingest.log",


use rule prepare_step as swinfuse_split with:
    """Pre-training patients (CT and MR together) and each task's train / val / test cases."""
    input:
        SWINFUSE_INDEX,
    output:
        splits=SWINFUSE_SPLITS,
        leakage=f"{SWINFUSE_DATA}/pretrain_leakage.csv",
    params:
        **step_params("swinfuse", "split", ("seed", "split", "tasks"),
                      lambda wildcards, output: os.path.dirname(output.splits)),
    log:
        f"{PATHS['logs']}/swinfuse/split.log",


rule swinfuse_figure:
    """swinfuse's figures: pre-training loss terms, segmentation overlays, ID / OOD Dice."""
    input:
        unpack(report_inputs),
        # metrics.csv of the pre-training runs whose loss terms the curves figure draws
        pretraining=lambda wc: (
            run_files(wc.table, "metrics.csv", SWINFUSE_FIGURES["pretrain_curves"]["models"])
            if wc.kind == "pretrain_curves"
            else []
        ),
        data=PREPARED["swinfuse"](None),
    output:
        figure_entry("{table}", "{kind}"),
    wildcard_constraints:
        table=result_tables("swinfuse"),
        kind="pretrain_curves|overlays|id_ood",
    params:
        **table_params("seed", "test_sets", "data", "tasks", "tables", "figures"),
        caption=lambda wc: figure_caption("swinfuse", wc.kind),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/swinfuse/{{table}}_figure_{{kind}}.log",
    shell:
        "medbench figure {wildcards.kind} --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --data {params.data} --out {output} > {log} 2>&1"
