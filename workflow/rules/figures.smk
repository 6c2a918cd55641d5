# Figures, regenerated from saved runs (predictions, per-epoch metrics, checkpoints), and the
# captions of the Snakemake report (`snakemake --report results/report.html`).
BRAIN_CT_FIGURE_DIR = "results/figures/{brain_ct_table}"


# the overlay figure's models that this run trains
BRAIN_CT_OVERLAID = [m for m in BRAIN_CT_FIGURES.get("overlays", {}).get("models", []) if m in BRAIN_CT["models"]]
BRAIN_CT_FIGURE_PARAMS = {
    "study": BRAIN_CT["study_config"],
    "override": resolved(BRAIN_CT_STUDY, "seed", "data", "split", "table", "figures"),
}


rule brain_ct_figure_gradcam:
    """The paper's Figure 4: Grad-CAM of the configured model's class logit, with the share of
    CAM energy inside each hematoma (gradcam.csv)."""
    input:
        model=lambda wc: run_files(
            "brain_ct", wc.brain_ct_table, "model.pt", [BRAIN_CT_FIGURES["gradcam"]["model"]]
        )[0],
        slices=BRAIN_CT_SLICES,
        splits=rules.brain_ct_split.output.splits,
    output:
        figure=figure_report("brain_ct", "gradcam"),
        stats=f"{BRAIN_CT_FIGURE_DIR}/gradcam.csv",
    params:
        **BRAIN_CT_FIGURE_PARAMS,
        cache=lambda wildcards, input: os.path.dirname(input.slices[0]),
        protocol=lambda wc: protocol_of(BRAIN_CT_TABLES, wc.brain_ct_table),
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_table}_figure_gradcam.log",
    shell:
        "medbench figure gradcam --config {params.study} --override {params.override:q} "
        "--model-file {input.model} --cache {params.cache} --splits {input.splits} "
        "--protocol {params.protocol} --out {output.figure} --stats {output.stats} > {log} 2>&1"


rule brain_ct_figure_roc:
    """ROC curves of every classifier on both test sets."""
    input:
        unpack(BRAIN_CT_REPORT_INPUTS),
    output:
        figure_report("brain_ct", "roc"),
    params:
        **BRAIN_CT_FIGURE_PARAMS,
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_table}_figure_roc.log",
    shell:
        "medbench figure roc --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --out {output} > {log} 2>&1"


rule brain_ct_figure_overlays:
    """Ground truth vs predicted hematoma masks of the segmenting models."""
    input:
        metrics=lambda wc: run_files("brain_ct", wc.brain_ct_table, "metrics.json", BRAIN_CT_OVERLAID),
        predictions=lambda wc: run_files(
            "brain_ct",
            wc.brain_ct_table,
            f"predictions/{BRAIN_CT_FIGURES['overlays']['test_set']}.npz",
            BRAIN_CT_OVERLAID,
        ),
        slices=BRAIN_CT_SLICES,
    output:
        figure_report("brain_ct", "overlays"),
    params:
        **BRAIN_CT_FIGURE_PARAMS,
        cache=lambda wildcards, input: os.path.dirname(input.slices[0]),
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_table}_figure_overlays.log",
    shell:
        "medbench figure overlays --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --cache {params.cache} --out {output} > {log} 2>&1"


rule brain_ct_figure_curves:
    """Training and validation loss and the monitored validation metric, per epoch."""
    input:
        metrics=lambda wc: run_files("brain_ct", wc.brain_ct_table, "metrics.json"),
        curves=lambda wc: run_files("brain_ct", wc.brain_ct_table, "metrics.csv"),
    output:
        figure_report("brain_ct", "curves"),
    params:
        **BRAIN_CT_FIGURE_PARAMS,
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_table}_figure_curves.log",
    shell:
        "medbench figure curves --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --out {output} > {log} 2>&1"


HUBMAP_FIGURE_DIR = "results/figures/{hubmap_table}"
HUBMAP_FIGURE_PARAMS = {
    "study": HUBMAP["study_config"],
    "override": resolved(HUBMAP_STUDY, "seed", "data", "split", "stain", "table", "figures"),
}
HUBMAP_CURVE_MODELS = [m for m in HUBMAP_FIGURES.get("curves", {}).get("models", HUBMAP["models"]) if m in HUBMAP["models"]]


rule hubmap_figure_organs:
    """The paper's Fig. 2 (organs of the training export) and Fig. 1 (an overlay per organ)."""
    input:
        splits=rules.hubmap_split.output.splits,
    output:
        figure_report("hubmap", "organs"),
    params:
        **HUBMAP_FIGURE_PARAMS,
        exports=HUBMAP_EXPORT_ARGS,
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/{hubmap_table}_figure_organs.log",
    shell:
        "medbench figure organs --config {params.study} --override {params.override:q} {params.exports} "
        "--splits {input.splits} --out {output} > {log} 2>&1"


rule hubmap_figure_stain:
    """The paper's Fig. 5: an evaluation image before and after stain normalisation."""
    input:
        splits=rules.hubmap_split.output.splits,
        cache=hubmap_cache_files,
    output:
        figure_report("hubmap", "stain"),
    params:
        **HUBMAP_FIGURE_PARAMS,
        exports=HUBMAP_EXPORT_ARGS,
        cache=HUBMAP_CACHE,
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/{hubmap_table}_figure_stain.log",
    shell:
        "medbench figure stain --config {params.study} --override {params.override:q} {params.exports} "
        "--splits {input.splits} --cache {params.cache} --out {output} > {log} 2>&1"


rule hubmap_figure_masks:
    """The paper's Fig. 6 and 8: every model's and loss's predicted mask on one image."""
    input:
        unpack(HUBMAP_REPORT_INPUTS),
        probabilities=lambda wc: run_files(
            "hubmap", wc.hubmap_table, f"predictions/{HUBMAP_FIGURES['masks']['test_set']}.npz"
        ),
        splits=rules.hubmap_split.output.splits,
        cache=hubmap_cache_files,
    output:
        figure_report("hubmap", "masks"),
    params:
        **HUBMAP_FIGURE_PARAMS,
        cache=HUBMAP_CACHE,
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/{hubmap_table}_figure_masks.log",
    shell:
        "medbench figure masks --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --splits {input.splits} --cache {params.cache} --out {output} > {log} 2>&1"


rule hubmap_figure_curves:
    """The paper's Fig. 7: training and validation loss (and validation Dice) per epoch."""
    input:
        metrics=lambda wc: run_files("hubmap", wc.hubmap_table, "metrics.json", HUBMAP_CURVE_MODELS),
        curves=lambda wc: run_files("hubmap", wc.hubmap_table, "metrics.csv", HUBMAP_CURVE_MODELS),
    output:
        figure_report("hubmap", "curves"),
    params:
        **HUBMAP_FIGURE_PARAMS,
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/{hubmap_table}_figure_curves.log",
    shell:
        "medbench figure curves --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --out {output} > {log} 2>&1"
