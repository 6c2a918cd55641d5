# medbench: data -> split -> train -> predict -> evaluate -> table, one CLI verb per rule.
#   snakemake --cores 8 results/table1.csv                          (toy data, CPU budget)
#   snakemake --cores 8 --configfile config/paper.yaml results/table1.csv   (published protocol)
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/brain_ct.smk"


rule all:
    input:
        result_tables(),
    default_target: True
