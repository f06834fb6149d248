# The workflow is workflow/Snakefile (where the Snakemake workflow catalog looks); this file lets
# `snakemake` run from the project's root, the working directory every path is relative to.


include: "workflow/Snakefile"


# Snakemake takes the default target from the file it was started with only, never from an
# included one: this rule asks for what the workflow's own `all` asks for.
rule default:
    default_target: True
    input:
        rules.all.input,
