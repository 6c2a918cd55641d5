# Rule templates the studies' rules files derive from with `use rule <template> as <rule> with:`
# (included after common.smk, before rules/studies/*.smk).

# The template of every study's data-preparation rule (ingest, split, ... in rules/studies/*.smk:
# `use rule prepare_step as <study>_<step> with:` input, output, params=step_params(...), log).
# It builds nothing itself: its one wildcard matches no path.
rule prepare_step:
    output:
        f"{PATHS['interim']}/{{prepare_template}}",
    wildcard_constraints:
        prepare_template="(?!)",
    params:
        verb="",
        study="",
        override="",
        data="",
        env="",
        item="",
    conda:
        MEDBENCH_ENV
    log:
        f"{PATHS['logs']}/{{prepare_template}}.log",
    shell:
        "{params.env}medbench {params.verb} --config {params.study} --override {params.override:q} "
        "--data {params.data}{params.item} > {log} 2>&1"
