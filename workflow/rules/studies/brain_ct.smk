# brain_ct's own rules: DICOM export -> slice cache -> splits (prepared data in <interim>/brain_ct),
# and its own figures (Grad-CAM, overlays). Training to tables: pipeline.smk.
BRAIN_CT_DATA = data_dir("brain_ct")
BRAIN_CT_SLICES = multiext(f"{BRAIN_CT_DATA}/slices/", "images.npy", "masks.npy", "index.csv")
BRAIN_CT_SPLITS = f"{BRAIN_CT_DATA}/splits.csv"
BRAIN_CT_LEAKAGE = f"{BRAIN_CT_DATA}/leakage.csv"
BRAIN_CT_FIGURES = STUDY["brain_ct"].get("figures", {})
BRAIN_CT_MODELS = config["brain_ct"]["models"]
# the overlay figure's models that this run trains
BRAIN_CT_OVERLAID = [m for m in BRAIN_CT_FIGURES.get("overlays", {}).get("models", []) if m in BRAIN_CT_MODELS]

BRAIN_CT_PREPARED = [*BRAIN_CT_SLICES, BRAIN_CT_SPLITS]  # what training and prediction read
PREPARED["brain_ct"] = lambda wc: BRAIN_CT_PREPARED
TABLE_DATA["brain_ct"] = [BRAIN_CT_LEAKAGE]  # the table's patient-leakage section
# overlays and Grad-CAM when one of their models is trained
STUDY_FIGURES["brain_ct"] = (["overlays"] if BRAIN_CT_OVERLAID else []) + (
    ["gradcam"] if BRAIN_CT_FIGURES.get("gradcam", {}).get("model") in BRAIN_CT_MODELS else []
)


if config["data_kind"] == "toy":
    # the synthetic hospital export in the real format (the manifest is written last)
    TOY["brain_ct"] = ({"manifest": config["brain_ct"]["raw"]["manifest"]}, lambda out: os.path.dirname(out.manifest))


rule brain_ct_ingest:
    """Validate every manifest row (reporting all problems at once), then window + resize."""
    input:
        manifest=config["brain_ct"]["raw"]["manifest"],
    output:
        BRAIN_CT_SLICES,
    params:
        study=config["brain_ct"]["study_config"],
        override=resolved("brain_ct", "data", "raw"),
        data=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),  # <data>/slices/...
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/brain_ct/ingest.log",
    shell:
        "medbench prepare ingest --config {params.study} --override {params.override:q} "
        "--data {params.data} > {log} 2>&1"


rule brain_ct_split:
    """Every protocol's split side by side, and the patient-leakage report."""
    input:
        BRAIN_CT_SLICES,
    output:
        splits=BRAIN_CT_SPLITS,
        leakage=BRAIN_CT_LEAKAGE,
    params:
        study=config["brain_ct"]["study_config"],
        override=resolved("brain_ct", "seed", "protocols", "data", "split"),
        data=lambda wildcards, output: os.path.dirname(output.splits),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/brain_ct/split.log",
    shell:
        "medbench split --config {params.study} --override {params.override:q} "
        "--data {params.data} > {log} 2>&1"


BRAIN_CT_FIGURE_PARAMS = table_params("seed", "test_sets", "data", "split", "table", "figures")


rule brain_ct_figure_gradcam:
    """The paper's Figure 4: Grad-CAM of the configured model's class logit, with the share of
    CAM energy inside each hematoma (gradcam.csv)."""
    input:
        model=lambda wc: run_files(wc.table, "model.pt", [BRAIN_CT_FIGURES["gradcam"]["model"]]),
        metrics=lambda wc: run_files(wc.table, "metrics.json", [BRAIN_CT_FIGURES["gradcam"]["model"]]),
        data=BRAIN_CT_PREPARED,
    output:
        figure=figure_entry("{table}", "gradcam"),
        stats=f"{PATHS['results']}/figures/{{table}}/gradcam.csv",
    wildcard_constraints:
        table=result_tables("brain_ct"),
    params:
        **BRAIN_CT_FIGURE_PARAMS,
        caption=figure_caption("brain_ct", "gradcam"),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/brain_ct/{{table}}_figure_gradcam.log",
    shell:
        "medbench figure gradcam --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --data {params.data} --protocol {params.protocol} "
        "--out {output.figure} > {log} 2>&1"


rule brain_ct_figure_overlays:
    """Ground truth vs predicted hematoma masks of the segmenting models."""
    input:
        metrics=lambda wc: run_files(wc.table, "metrics.json", BRAIN_CT_OVERLAID),
        predictions=lambda wc: run_files(wc.table, "predictions", BRAIN_CT_OVERLAID),
        data=BRAIN_CT_SLICES,
    output:
        figure_entry("{table}", "overlays"),
    wildcard_constraints:
        table=result_tables("brain_ct"),
    params:
        **BRAIN_CT_FIGURE_PARAMS,
        caption=figure_caption("brain_ct", "overlays"),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/brain_ct/{{table}}_figure_overlays.log",
    shell:
        "medbench figure overlays --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --data {params.data} --protocol {params.protocol} --out {output} > {log} 2>&1"
