# brain_ct: DICOM export -> slice cache -> splits -> one run per model -> results/table1.*
BRAIN_CT = config["brain_ct"]
BRAIN_CT_STUDY = load_study_config(BRAIN_CT["study_config"], BRAIN_CT.get("overrides"))
BRAIN_CT_INTERIM = "data/interim/brain_ct"
# one run directory per split protocol and training seed: results/table1.csv is the paper's
# split, results/table1_patient_disjoint.csv the same models on the patient-grouped split
BRAIN_CT_RUNS = "runs/brain_ct/{brain_ct_protocol}/seed{brain_ct_seed}"
BRAIN_CT_TABLES = RESULT_TABLES["brain_ct"]
BRAIN_CT_FIGURES = BRAIN_CT_STUDY.get("figures", {})
STUDIES["brain_ct"] = {
    "runs": BRAIN_CT_RUNS,
    "seeds": training_seeds("brain_ct", BRAIN_CT_STUDY),
    "figures": BRAIN_CT_FIGURES,
    # ROC and curves always; overlays and Grad-CAM when one of their models is trained
    "drawn": ["roc", "curves"]
    + (["overlays"] if set(BRAIN_CT_FIGURES.get("overlays", {}).get("models", [])) & set(BRAIN_CT["models"]) else [])
    + (["gradcam"] if BRAIN_CT_FIGURES.get("gradcam", {}).get("model") in BRAIN_CT["models"] else []),
    "claims": bool(BRAIN_CT_STUDY.get("claims")),
}
BRAIN_CT_REPORT_INPUTS = report_inputs("brain_ct", TEST_SETS, BRAIN_CT_STUDY["table"]["paper_results"])
BRAIN_CT_MODEL_SECTIONS = ("seed", "data", "split", "augmentation")
BRAIN_CT_SLICES = multiext(f"{BRAIN_CT_INTERIM}/slices/", "images.npy", "masks.npy", "index.csv")
check_table_models(BRAIN_CT_STUDY, BRAIN_CT["models"], "brain_ct")


wildcard_constraints:
    # every model of the study can be trained (joint models need their segmentation run)
    brain_ct_model="|".join(BRAIN_CT_STUDY["models"]),
    brain_ct_protocol="|".join(BRAIN_CT_TABLES),
    brain_ct_table="|".join(BRAIN_CT_TABLES.values()),
    brain_ct_seed=r"\d+",


if config["data_kind"] == "toy":

    rule brain_ct_toy:
        """Synthetic hospital export in the real format; the manifest is written last."""
        output:
            BRAIN_CT["manifest"],
        params:
            toy=toy_params("brain_ct"),
            out_dir=lambda wildcards, output: os.path.dirname(output[0]),
        conda:
            MEDBENCH_ENV
        log:
            "logs/brain_ct/toy.log",
        shell:
            "medbench toy brain_ct --out {params.out_dir} --params {params.toy:q} > {log} 2>&1"


rule brain_ct_ingest:
    """Validate every manifest row (reporting all problems at once), then window + resize."""
    input:
        manifest=BRAIN_CT["manifest"],
    output:
        BRAIN_CT_SLICES,
    params:
        study=BRAIN_CT["study_config"],
        override=resolved(BRAIN_CT_STUDY, "data"),
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/ingest.log",
    shell:
        "medbench ingest --config {params.study} --override {params.override:q} "
        "--manifest {input.manifest} --out {params.out_dir} > {log} 2>&1"


rule brain_ct_split:
    """Both split protocols side by side, and the patient-leakage report."""
    input:
        slices=BRAIN_CT_SLICES,
    output:
        splits=f"{BRAIN_CT_INTERIM}/splits.csv",
        leakage=f"{BRAIN_CT_INTERIM}/leakage.csv",
    params:
        study=BRAIN_CT["study_config"],
        override=resolved(BRAIN_CT_STUDY, "seed", "data", "split"),
        cache=lambda wildcards, input: os.path.dirname(input.slices[0]),
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/split.log",
    shell:
        "medbench split --config {params.study} --override {params.override:q} "
        "--cache {params.cache} --out {output.splits} --leakage {output.leakage} > {log} 2>&1"


rule brain_ct_train:
    """One model; checkpoints every epoch and resumes from checkpoints/last.pt when re-run."""
    input:
        slices=BRAIN_CT_SLICES,
        splits=rules.brain_ct_split.output.splits,
        # joint models: the run whose encoder they freeze (their `requires`)
        frozen=lambda wc: required_checkpoint(BRAIN_CT_STUDY, wc.brain_ct_model, BRAIN_CT_RUNS.format(**wc)),
    output:
        model=f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/model.pt",
        metrics=f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/metrics.csv",
    params:
        study=BRAIN_CT["study_config"],
        override=lambda wc: resolved(
            BRAIN_CT_STUDY, *BRAIN_CT_MODEL_SECTIONS, model=wc.brain_ct_model, seed=wc.brain_ct_seed
        ),
        cache=lambda wildcards, input: os.path.dirname(input.slices[0]),
        protocol=lambda wc: wc.brain_ct_protocol,
        run_dir=lambda wildcards, output: os.path.dirname(output.model),
        frozen=lambda wildcards, input: frozen_argument(input.frozen),
    threads: job_threads()
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_protocol}/seed{brain_ct_seed}/train_{brain_ct_model}.log",
    shell:
        "medbench --threads {threads} train --config {params.study} --override {params.override:q} "
        "--model {wildcards.brain_ct_model} --protocol {params.protocol} --cache {params.cache} "
        "--splits {input.splits} --out {params.run_dir} {params.frozen} > {log} 2>&1"


rule brain_ct_predict:
    input:
        model=rules.brain_ct_train.output.model,
        slices=BRAIN_CT_SLICES,
        splits=rules.brain_ct_split.output.splits,
    output:
        multiext(f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/predictions/test_h1_4", ".csv", ".npz"),
        multiext(f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/predictions/test_h5_11", ".csv", ".npz"),
    params:
        study=BRAIN_CT["study_config"],
        override=lambda wc: resolved(
            BRAIN_CT_STUDY, *BRAIN_CT_MODEL_SECTIONS, model=wc.brain_ct_model, seed=wc.brain_ct_seed
        ),
        cache=lambda wildcards, input: os.path.dirname(input.slices[0]),
        protocol=lambda wc: wc.brain_ct_protocol,
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    threads: job_threads()
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_protocol}/seed{brain_ct_seed}/predict_{brain_ct_model}.log",
    shell:
        "medbench --threads {threads} predict --config {params.study} --override {params.override:q} "
        "--model-file {input.model} --protocol {params.protocol} --cache {params.cache} "
        "--splits {input.splits} --out {params.out_dir} > {log} 2>&1"


rule brain_ct_evaluate:
    input:
        rules.brain_ct_predict.output,
    output:
        f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/metrics.json",
    params:
        pred_dir=lambda wildcards, input: os.path.dirname(input[0]),
        bootstrap=BRAIN_CT_STUDY.get("evaluation", {}).get("bootstrap_samples", 1000),
        seed=BRAIN_CT_STUDY["seed"],
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_protocol}/seed{brain_ct_seed}/evaluate_{brain_ct_model}.log",
    shell:
        "medbench evaluate --predictions {params.pred_dir} --bootstrap {params.bootstrap} "
        "--seed {params.seed} --out {output} > {log} 2>&1"


rule brain_ct_table:
    """The paper's Table 1 with our values; Markdown shows ours beside the paper's, intervals
    and the paired test against the baseline."""
    input:
        unpack(BRAIN_CT_REPORT_INPUTS),
        leakage=rules.brain_ct_split.output.leakage,
    output:
        csv=report(
            "results/{brain_ct_table}.csv",
            caption="../report/brain_ct_table.rst",
            category="brain_ct",
            subcategory="{brain_ct_table}",
            labels={"figure": "table"},
        ),
        md="results/{brain_ct_table}.md",
    params:
        study=BRAIN_CT["study_config"],
        override=resolved(BRAIN_CT_STUDY, "seed", "data", "evaluation", "table"),
        protocol=lambda wc: protocol_of(BRAIN_CT_TABLES, wc.brain_ct_table),
        data_kind=config["data_kind"],
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_table}.log",
    shell:
        "medbench table --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --protocol {params.protocol} --data-kind {params.data_kind} "
        "--leakage {input.leakage} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule brain_ct_claims:
    """Each comparative claim of the paper's Results, checked on this run (paired bootstrap)."""
    input:
        unpack(BRAIN_CT_REPORT_INPUTS),
    output:
        report(
            "results/{brain_ct_table}_claims.md",
            caption="../report/brain_ct_claims.rst",
            category="brain_ct",
            subcategory="{brain_ct_table}",
            labels={"figure": "claims"},
        ),
    params:
        study=BRAIN_CT["study_config"],
        override=resolved(BRAIN_CT_STUDY, "seed", "data", "evaluation", "table", "claims"),
        protocol=lambda wc: protocol_of(BRAIN_CT_TABLES, wc.brain_ct_table),
        data_kind=config["data_kind"],
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/{brain_ct_table}_claims.log",
    shell:
        "medbench claims --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --protocol {params.protocol} --data-kind {params.data_kind} "
        "--out {output} > {log} 2>&1"
