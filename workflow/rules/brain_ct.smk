# brain_ct: DICOM export -> slice cache -> splits -> one run per model -> results/table1.*
BRAIN_CT = config["brain_ct"]
BRAIN_CT_INTERIM = "data/interim/brain_ct"
BRAIN_CT_RUNS = f"runs/brain_ct/{BRAIN_CT['protocol']}"
BRAIN_CT_SLICES = multiext(f"{BRAIN_CT_INTERIM}/slices/", "images.npy", "masks.npy", "index.csv")


wildcard_constraints:
    brain_ct_model="|".join(BRAIN_CT["models"]),


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
        study=BRAIN_CT["study_config"],
    output:
        BRAIN_CT_SLICES,
    params:
        override=study_override("brain_ct"),
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/ingest.log",
    shell:
        "medbench ingest --config {input.study} --override {params.override:q} "
        "--manifest {input.manifest} --out {params.out_dir} > {log} 2>&1"


rule brain_ct_split:
    """Both split protocols side by side, and the patient-leakage report."""
    input:
        slices=BRAIN_CT_SLICES,
        study=BRAIN_CT["study_config"],
    output:
        splits=f"{BRAIN_CT_INTERIM}/splits.csv",
        leakage=f"{BRAIN_CT_INTERIM}/leakage.csv",
    params:
        override=study_override("brain_ct"),
        cache=lambda wildcards, input: os.path.dirname(input.slices[0]),
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/split.log",
    shell:
        "medbench split --config {input.study} --override {params.override:q} "
        "--cache {params.cache} --out {output.splits} --leakage {output.leakage} > {log} 2>&1"


rule brain_ct_train:
    """One model; checkpoints every epoch and resumes from checkpoints/last.pt when re-run."""
    input:
        slices=BRAIN_CT_SLICES,
        splits=rules.brain_ct_split.output.splits,
        study=BRAIN_CT["study_config"],
    output:
        model=f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/model.pt",
        metrics=f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/metrics.csv",
    params:
        override=study_override("brain_ct"),
        cache=lambda wildcards, input: os.path.dirname(input.slices[0]),
        protocol=BRAIN_CT["protocol"],
        run_dir=lambda wildcards, output: os.path.dirname(output.model),
    threads: job_threads()
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/train_{brain_ct_model}.log",
    shell:
        "medbench --threads {threads} train --config {input.study} --override {params.override:q} "
        "--model {wildcards.brain_ct_model} --protocol {params.protocol} --cache {params.cache} "
        "--splits {input.splits} --out {params.run_dir} > {log} 2>&1"


rule brain_ct_predict:
    input:
        model=rules.brain_ct_train.output.model,
        slices=BRAIN_CT_SLICES,
        splits=rules.brain_ct_split.output.splits,
        study=BRAIN_CT["study_config"],
    output:
        multiext(f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/predictions/test_h1_4", ".csv", ".npz"),
        multiext(f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/predictions/test_h5_11", ".csv", ".npz"),
    params:
        override=study_override("brain_ct"),
        cache=lambda wildcards, input: os.path.dirname(input.slices[0]),
        protocol=BRAIN_CT["protocol"],
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    threads: job_threads()
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/predict_{brain_ct_model}.log",
    shell:
        "medbench --threads {threads} predict --config {input.study} --override {params.override:q} "
        "--model-file {input.model} --protocol {params.protocol} --cache {params.cache} "
        "--splits {input.splits} --out {params.out_dir} > {log} 2>&1"


rule brain_ct_evaluate:
    input:
        rules.brain_ct_predict.output,
    output:
        f"{BRAIN_CT_RUNS}/{{brain_ct_model}}/metrics.json",
    params:
        pred_dir=lambda wildcards, input: os.path.dirname(input[0]),
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/evaluate_{brain_ct_model}.log",
    shell:
        "medbench evaluate --predictions {params.pred_dir} --out {output} > {log} 2>&1"


rule brain_ct_table:
    """The paper's Table 1 with our values; Markdown shows ours beside the paper's."""
    input:
        metrics=expand(f"{BRAIN_CT_RUNS}/{{m}}/metrics.json", m=BRAIN_CT["models"]),
        study=BRAIN_CT["study_config"],
        paper="config/paper_results/table1.csv",
    output:
        csv="results/table1.csv",
        md="results/table1.md",
    params:
        override=study_override("brain_ct"),
        protocol=BRAIN_CT["protocol"],
        data_kind=config["data_kind"],
    conda:
        MEDBENCH_ENV
    log:
        "logs/brain_ct/table.log",
    shell:
        "medbench table --config {input.study} --override {params.override:q} "
        "--metrics {input.metrics} --protocol {params.protocol} --data-kind {params.data_kind} "
        "--csv {output.csv} --md {output.md} > {log} 2>&1"
