# brain_ct's own rules: DICOM export -> slice cache -> splits (prepared data in <interim>/brain_ct),
# and its own figures (Grad-CAM, overlays). Training to tables: pipeline.smk.
BRAIN_CT_DATA = data_dir("brain_ct")
BRAIN_CT_SLICES = multiext(f"{BRAIN_CT_DATA}/slices/", "images.npy", "masks.npy", "index.csv")
BRAIN_CT_SPLITS = f"{BRAIN_CT_DATA}/splits.csv"
BRAIN_CT_LEAKAGE = f"{BRAIN_CT_DATA}/leakage.csv"
BRAIN_CT_FIGURES = STUDY["brain_ct"].get("figures", {})
# the overlay figure's models that this run trains
BRAIN_CT_OVERLAID = figure_models("brain_ct", BRAIN_CT_FIGURES.get("overlays", {"models": []}))

BRAIN_CT_PREPARED = [*BRAIN_CT_SLICES, BRAIN_CT_SPLITS]  # what training and prediction read
PREPARED["brain_ct"] = lambda wc: BRAIN_CT_PREPARED
TABLE_DATA["brain_ct"] = [BRAIN_CT_LEAKAGE]  # the table's patient-leakage section


if config["data_kind"] == "toy":
    # the synthetic hospital export in the real format (the manifest is written last)
    TOY["brain_ct"] = ({"manifest": config["brain_ct"]["raw"]["manifest"]}, lambda out: os.path.dirname(out.manifest))


use rule prepare_step as brain_ct_ingest with:
    """Validate every manifest row (reporting all problems at once), then window + resize."""
    input:
        manifest=config["brain_ct"]["raw"]["manifest"],
    output:
        BRAIN_CT_SLICES,
    params:
        # <data>/slices/...
        **step_params("brain_ct", "prepare ingest", ("data", "raw"),
                      lambda wildcards, output: os.path.dirname(os.path.dirname(output[0]))),
    log:
        f"{PATHS['logs']}/brain_ct/ingest.log",


use rule prepare_step as brain_ct_split with:
    """Every protocol's split side by side, and the patient-leakage report."""
    input:
        BRAIN_CT_SLICES,
    output:
        splits=BRAIN_CT_SPLITS,
        leakage=BRAIN_CT_LEAKAGE,
    params:
        **step_params("brain_ct", "split", ("seed", "protocols", "data", "split"),
                      lambda wildcards, output: os.path.dirname(output.splits)),
    log:
        f"{PATHS['logs']}/brain_ct/split.log",


rule brain_ct_figure:
    """Ground truth vs predicted hematoma masks of the segmenting models (`overlays`)."""
    input:
        metrics=lambda wc: run_files(wc.table, "metrics.json", BRAIN_CT_OVERLAID),
        predictions=lambda wc: run_files(wc.table, "predictions", BRAIN_CT_OVERLAID),
        data=BRAIN_CT_SLICES,
    output:
        figure=figure_entry("{table}", "{kind}"),
    wildcard_constraints:
        table=result_tables("brain_ct"),
        kind="overlays",
    params:
        **table_params("seed", "test_sets", "data", "split", "table", "figures"),
        caption=lambda wc: figure_caption("brain_ct", wc.kind),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/brain_ct/{{table}}_figure_{{kind}}.log",
    shell:
        "medbench figure {wildcards.kind} --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --data {params.data} --protocol {params.protocol} --out {output.figure} > {log} 2>&1"


use rule brain_ct_figure as brain_ct_figure_gradcam with:
    """The paper's Figure 4: Grad-CAM of the configured model's class logit, with the share of
    CAM energy inside each hematoma (gradcam.csv beside the figure)."""
    input:
        model=lambda wc: run_files(wc.table, "model.pt", [BRAIN_CT_FIGURES["gradcam"]["model"]]),
        metrics=lambda wc: run_files(wc.table, "metrics.json", [BRAIN_CT_FIGURES["gradcam"]["model"]]),
        data=BRAIN_CT_PREPARED,
    output:
        figure=figure_entry("{table}", "{kind}"),
        stats=f"{PATHS['results']}/figures/{{table}}/{{kind}}.csv",
    wildcard_constraints:
        table=result_tables("brain_ct"),
        kind="gradcam",
