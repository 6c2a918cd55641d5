# The pipeline every study shares, one rule each, for any `{study}`:
#   prepared data (the study's own rules) -> train -> predict -> evaluate -> table, claims, figures
# Runs live in <runs>/<study>/<protocol>/seed<S>/<model>/; tables in <results>/<table>.*


wildcard_constraints:
    study="|".join(STUDY_NAMES),
    protocol="|".join(sorted({p for cfg in STUDY.values() for p in cfg["protocols"]})),
    seed=r"\d+",
    model=r"[A-Za-z0-9_]+",
    table="|".join(TABLES),


# Toy data of every study that declares it (TOY, in its rules file): `<study>_toy`
for _study, (_toy_outputs, _toy_dir) in TOY.items():

    rule:
        name:
            f"{_study}_toy"
        output:
            **_toy_outputs,
        params:
            study=config[_study]["study_config"],
            toy=toy_params(_study),
            out_dir=output_folder(_toy_dir),
        conda:
            MEDBENCH_ENV
        log:
            f"{PATHS['logs']}/{_study}/toy.log",
        shell:
            "medbench toy --config {params.study} --out {params.out_dir} --params {params.toy:q} > {log} 2>&1"


# what train and predict use of a study config, beside the model's recipe and training seed
# (sections a study does not have are skipped; swinfuse: its tasks and pre-training data)
MODEL_SECTIONS = ("seed", "data", "split", "augmentation", "tasks", "pretrain")


rule train:
    """One model of one study; checkpoints every epoch and resumes from checkpoints/last.pt."""
    input:
        data=lambda wc: PREPARED[wc.study](wc),
        frozen=frozen_checkpoint,
    output:
        model=f"{run_dir('{study}')}/model.pt",
        metrics=f"{run_dir('{study}')}/metrics.csv",
    params:
        study=lambda wc: config[wc.study]["study_config"],
        override=lambda wc: resolved(wc.study, *MODEL_SECTIONS, model=wc.model, seed=wc.seed),
        data=lambda wc: data_dir(wc.study),
        run_dir=lambda wildcards, output: os.path.dirname(output.model),
        frozen=lambda wildcards, input: " ".join(f"--frozen-checkpoint {path}" for path in input.frozen),
    threads: job_threads
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/{{study}}/{{protocol}}/seed{{seed}}/train_{{model}}.log",
    shell:
        "medbench --threads {threads} train --config {params.study} --override {params.override:q} "
        "--model {wildcards.model} --protocol {wildcards.protocol} --data {params.data} "
        "--out {params.run_dir} {params.frozen} > {log} 2>&1"


rule predict:
    """Every test set of the study, predicted by the study's own code; saved for evaluation."""
    input:
        model=rules.train.output.model,
        data=lambda wc: PREPARED[wc.study](wc),
    output:
        directory(f"{run_dir('{study}')}/predictions"),
    params:
        study=lambda wc: config[wc.study]["study_config"],
        override=lambda wc: resolved(wc.study, *MODEL_SECTIONS, "inference", model=wc.model, seed=wc.seed),
        data=lambda wc: data_dir(wc.study),
    threads: job_threads
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/{{study}}/{{protocol}}/seed{{seed}}/predict_{{model}}.log",
    shell:
        "medbench --threads {threads} predict --config {params.study} --override {params.override:q} "
        "--model-file {input.model} --protocol {wildcards.protocol} --data {params.data} "
        "--out {output} > {log} 2>&1"


rule evaluate:
    """Metrics of every test set with 95% bootstrap intervals (the study's split seed)."""
    input:
        rules.predict.output,
    output:
        f"{run_dir('{study}')}/metrics.json",
    params:
        study=lambda wc: config[wc.study]["study_config"],
        override=lambda wc: resolved(wc.study, "seed", "test_sets", "evaluation"),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/{{study}}/{{protocol}}/seed{{seed}}/evaluate_{{model}}.log",
    shell:
        "medbench evaluate --config {params.study} --override {params.override:q} "
        "--predictions {input} --out {output} > {log} 2>&1"


rule table:
    """The paper's table with our values; Markdown shows ours beside the paper's with intervals,
    paired tests against the baseline and the study's own sections."""
    input:
        unpack(report_inputs),
        study_data=lambda wc: table_data(study_of(wc), wc),
    output:
        csv=f"{PATHS['results']}/{{table}}.csv",
        md=f"{PATHS['results']}/{{table}}.md",
        html=report_entry(f"{PATHS['results']}/{{table}}.html", TABLE_CAPTION, "table"),
    params:
        # the models' recipes and the tasks: every row's training budget is in the table
        **table_params("seed", "test_sets", "data", "evaluation", "table", "tables", "training", "models",
                       "tasks"),
        caption=lambda wc: table_of(wc.table).get("caption", ""),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/tables/{{table}}.log",
    shell:
        "medbench table --config {params.study} --override {params.override:q} --table {params.table} "
        "--metrics {input.metrics} --protocol {params.protocol} --data-kind {params.data_kind} "
        "--data {params.data} --csv {output.csv} --md {output.md} --html {output.html} > {log} 2>&1"


rule claims:
    """Each comparative claim of the paper, checked on its own table and on this run (paired bootstrap)."""
    input:
        unpack(report_inputs),
    output:
        md=f"{PATHS['results']}/{{table}}_claims.md",
        html=report_entry(f"{PATHS['results']}/{{table}}_claims.html", CLAIMS_CAPTION, "claims check"),
    params:
        **table_params("seed", "test_sets", "data", "evaluation", "table", "tables", "claims"),
        caption=lambda wc: table_of(wc.table).get("claims_caption", ""),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/tables/{{table}}_claims.log",
    shell:
        "medbench claims --config {params.study} --override {params.override:q} --table {params.table} "
        "--metrics {input.metrics} --protocol {params.protocol} --data-kind {params.data_kind} "
        "--out {output.md} --html {output.html} > {log} 2>&1"


rule figure:
    """The shared figures: ROC curves of every classifier on every test set (`roc`); training and
    validation curves per epoch (`curves`)."""
    input:
        metrics=figure_runs("metrics.json"),
        runs=lambda wc: figure_runs("predictions" if wc.kind == "roc" else "metrics.csv")(wc),
    output:
        figure_entry("{table}", "{kind}"),
    wildcard_constraints:
        kind="|".join(SHARED_FIGURES),
    params:
        **table_params("seed", "test_sets", "data", "split", "table", "tables", "figures"),
        caption=lambda wc: figure_caption(study_of(wc), wc.kind),
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/tables/{{table}}_figure_{{kind}}.log",
    shell:
        "medbench figure {wildcards.kind} --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --protocol {params.protocol} --out {output} > {log} 2>&1"
