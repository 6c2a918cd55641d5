# hubmap: Kaggle-format exports -> split (+ validation) -> stain target -> one preprocessing
# job per image (resize + Vahadane) -> one run per model and loss -> results/table2.*
from medbench.data.hubmap_splits import EVALUATION_SETS
HUBMAP = config["hubmap"]
HUBMAP_STUDY = load_study_config(HUBMAP["study_config"], HUBMAP.get("overrides"))
HUBMAP_INTERIM = "data/interim/hubmap"
HUBMAP_CACHE = f"{HUBMAP_INTERIM}/images"  # <source>/<id>.npz, written once per image
HUBMAP_RUNS = "runs/hubmap/{hubmap_protocol}/seed{hubmap_seed}"
HUBMAP_TABLES = RESULT_TABLES["hubmap"]
HUBMAP_EXPORTS = {"training": HUBMAP["training_export"], "evaluation": HUBMAP["evaluation_export"]}
HUBMAP_EXPORT_ARGS = (
    f"--training-export {HUBMAP_EXPORTS['training']} --evaluation-export {HUBMAP_EXPORTS['evaluation']}"
)
HUBMAP_TEST_SETS = list(EVALUATION_SETS)  # the sets the split step builds
HUBMAP_FIGURES = HUBMAP_STUDY.get("figures", {})
STUDIES["hubmap"] = {
    "runs": HUBMAP_RUNS,
    "seeds": training_seeds("hubmap", HUBMAP_STUDY),
    "figures": HUBMAP_FIGURES,
    # data figures always; masks and curves need one of their models trained
    "claims": bool(HUBMAP_STUDY.get("claims")),
    "drawn": [name for name in ("organs", "stain") if name in HUBMAP_FIGURES]
    + (["masks"] if "masks" in HUBMAP_FIGURES else [])
    + (["curves"] if set(HUBMAP_FIGURES.get("curves", {}).get("models", HUBMAP["models"])) & set(HUBMAP["models"]) else []),
}
HUBMAP_REPORT_INPUTS = report_inputs("hubmap", HUBMAP_TEST_SETS, HUBMAP_STUDY["table"]["paper_results"])
HUBMAP_MODEL_SECTIONS = ("seed", "data", "split", "augmentation")
check_table_models(HUBMAP_STUDY, HUBMAP["models"], "hubmap")


wildcard_constraints:
    hubmap_model="|".join(HUBMAP_STUDY["models"]),
    hubmap_protocol="|".join(HUBMAP_TABLES),
    hubmap_table="|".join(HUBMAP_TABLES.values()),
    hubmap_seed=r"\d+",
    hubmap_source="training|evaluation",


if config["data_kind"] == "toy":
    check_toy_exports(HUBMAP_EXPORTS)

    rule hubmap_toy:
        """Synthetic HPA (training) and HuBMAP (evaluation) exports in Kaggle's format."""
        output:
            training=f"{HUBMAP_EXPORTS['training']}/train.csv",
            evaluation=f"{HUBMAP_EXPORTS['evaluation']}/train.csv",
        params:
            toy=toy_params("hubmap"),
            out_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(output.training)),
        conda:
            MEDBENCH_ENV
        log:
            "logs/hubmap/toy.log",
        shell:
            "medbench toy hubmap --out {params.out_dir} --params {params.toy:q} > {log} 2>&1"


checkpoint hubmap_split:
    """Validate both exports (every malformed RLE, missing or mis-sized TIFF, unknown organ is
    named; nothing is written then), then folds by organ and the evaluation sets. A checkpoint:
    its table decides which per-image preprocessing jobs exist."""
    input:
        training=f"{HUBMAP_EXPORTS['training']}/train.csv",
        evaluation=f"{HUBMAP_EXPORTS['evaluation']}/train.csv",
    output:
        splits=f"{HUBMAP_INTERIM}/splits.csv",
    params:
        study=HUBMAP["study_config"],
        override=resolved(HUBMAP_STUDY, "seed", "split"),
        exports=HUBMAP_EXPORT_ARGS,
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/split.log",
    shell:
        "medbench split --config {params.study} --override {params.override:q} {params.exports} "
        "--out {output.splits} > {log} 2>&1"


rule hubmap_stain_target:
    """Fit Vahadane once on the configured target image; every image's job reuses it."""
    input:
        splits=rules.hubmap_split.output.splits,
    output:
        f"{HUBMAP_INTERIM}/stain_target.npz",
    params:
        study=HUBMAP["study_config"],
        override=resolved(HUBMAP_STUDY, "data", "stain"),
        exports=HUBMAP_EXPORT_ARGS,
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/stain_target.log",
    shell:
        "medbench stain-target --config {params.study} --override {params.override:q} {params.exports} "
        "--splits {input.splits} --out {output} > {log} 2>&1"


rule hubmap_preprocess:
    """One image: resize, Vahadane-normalise (cached: runs once per image, not per model)."""
    input:
        splits=rules.hubmap_split.output.splits,
        target=rules.hubmap_stain_target.output,
    output:
        f"{HUBMAP_CACHE}/{{hubmap_source}}/{{image_id}}.npz",
    params:
        study=HUBMAP["study_config"],
        override=resolved(HUBMAP_STUDY, "data", "stain"),
        exports=HUBMAP_EXPORT_ARGS,
    threads: 1
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/preprocess/{hubmap_source}_{image_id}.log",
    shell:
        "OMP_NUM_THREADS=1 medbench preprocess --config {params.study} --override {params.override:q} "
        "{params.exports} --splits {input.splits} --source {wildcards.hubmap_source} --id {wildcards.image_id} "
        "--stain-target {input.target} --out {output} > {log} 2>&1"


rule hubmap_train:
    """One model and loss; checkpoints every epoch and resumes from checkpoints/last.pt."""
    input:
        cache=hubmap_cache_files,
        splits=rules.hubmap_split.output.splits,
    output:
        model=f"{HUBMAP_RUNS}/{{hubmap_model}}/model.pt",
        metrics=f"{HUBMAP_RUNS}/{{hubmap_model}}/metrics.csv",
    params:
        study=HUBMAP["study_config"],
        override=lambda wc: resolved(HUBMAP_STUDY, *HUBMAP_MODEL_SECTIONS, model=wc.hubmap_model, seed=wc.hubmap_seed),
        cache=HUBMAP_CACHE,
        run_dir=lambda wildcards, output: os.path.dirname(output.model),
    threads: job_threads()
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/{hubmap_protocol}/seed{hubmap_seed}/train_{hubmap_model}.log",
    shell:
        "medbench --threads {threads} train --config {params.study} --override {params.override:q} "
        "--model {wildcards.hubmap_model} --protocol {wildcards.hubmap_protocol} --cache {params.cache} "
        "--splits {input.splits} --out {params.run_dir} > {log} 2>&1"


rule hubmap_predict:
    """Flip TTA, organ/source thresholds, Dice per image on the original pixel grid."""
    input:
        model=rules.hubmap_train.output.model,
        cache=hubmap_cache_files,
        splits=rules.hubmap_split.output.splits,
    output:
        [
            multiext(f"{HUBMAP_RUNS}/{{hubmap_model}}/predictions/{test_set}", ".csv", ".npz")
            for test_set in HUBMAP_TEST_SETS
        ],
    params:
        study=HUBMAP["study_config"],
        override=lambda wc: resolved(HUBMAP_STUDY, "seed", "data", "inference", model=wc.hubmap_model),
        cache=HUBMAP_CACHE,
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    threads: job_threads()
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/{hubmap_protocol}/seed{hubmap_seed}/predict_{hubmap_model}.log",
    shell:
        "medbench --threads {threads} predict --config {params.study} --override {params.override:q} "
        "--model-file {input.model} --cache {params.cache} --splits {input.splits} "
        "--out {params.out_dir} > {log} 2>&1"


rule hubmap_evaluate:
    """Mean Dice per evaluation set (also per organ and data source), bootstrap intervals."""
    input:
        rules.hubmap_predict.output,
    output:
        f"{HUBMAP_RUNS}/{{hubmap_model}}/metrics.json",
    params:
        pred_dir=lambda wildcards, input: os.path.dirname(input[0]),
        bootstrap=HUBMAP_STUDY.get("evaluation", {}).get("bootstrap_samples", 1000),
        seed=HUBMAP_STUDY["seed"],
        test_sets=" ".join(HUBMAP_TEST_SETS),
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/{hubmap_protocol}/seed{hubmap_seed}/evaluate_{hubmap_model}.log",
    shell:
        "medbench evaluate --predictions {params.pred_dir} --test-sets {params.test_sets} "
        "--bootstrap {params.bootstrap} --seed {params.seed} --out {output} > {log} 2>&1"


rule hubmap_table:
    """The paper's Table 2 with our values beside the paper's, with intervals."""
    input:
        unpack(HUBMAP_REPORT_INPUTS),
    output:
        csv=report(
            "results/{hubmap_table}.csv",
            caption="../report/hubmap_table.rst",
            category="hubmap",
            subcategory="{hubmap_table}",
            labels={"figure": "table"},
        ),
        md="results/{hubmap_table}.md",
    params:
        study=HUBMAP["study_config"],
        override=resolved(HUBMAP_STUDY, "seed", "data", "evaluation", "table"),
        protocol=lambda wc: protocol_of(HUBMAP_TABLES, wc.hubmap_table),
        data_kind=config["data_kind"],
    conda:
        MEDBENCH_ENV
    log:
        "logs/hubmap/{hubmap_table}.log",
    shell:
        "medbench table --config {params.study} --override {params.override:q} "
        "--metrics {input.metrics} --protocol {params.protocol} --data-kind {params.data_kind} "
        "--csv {output.csv} --md {output.md} > {log} 2>&1"


use rule brain_ct_claims as hubmap_claims with:
    input:
        unpack(HUBMAP_REPORT_INPUTS),
    output:
        report(
            "results/{hubmap_table}_claims.md",
            caption="../report/hubmap_claims.rst",
            category="hubmap",
            subcategory="{hubmap_table}",
            labels={"figure": "claims"},
        ),
    params:
        study=HUBMAP["study_config"],
        override=resolved(HUBMAP_STUDY, "seed", "data", "evaluation", "table", "claims"),
        protocol=lambda wc: protocol_of(HUBMAP_TABLES, wc.hubmap_table),
        data_kind=config["data_kind"],
    log:
        "logs/hubmap/{hubmap_table}_claims.log",
