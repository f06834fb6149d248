#!/bin/sh
# Installs nnclaims (this checkout, editable, without dependencies) into the env Snakemake just
# created: train.yaml's, and analysis.yaml's (analysis.post-deploy.sh is a link to this file:
# Snakemake looks for one script beside each env file and copies its contents).
#
# Snakemake 9 runs this file once, right after it creates that env: it copies it to
# <conda-prefix>/<env hash>.post-deploy.sh and runs, in its own working directory,
#   source <conda>/bin/activate <conda-prefix>/<env hash>; /bin/sh <that copy>
# (snakemake/deployment/conda.py: Env.create, Env.execute_deployment_script). So the script's own
# path is inside --conda-prefix (default .snakemake/conda/), not the checkout, and Snakemake passes
# no variable naming the workflow. The working directory is the checkout's root: the Snakefile
# reads config/config.yaml from there, so snakemake runs there (or the workflow fails first).
# A relative path in the env file cannot do this: conda runs the pip section in the directory of
# Snakemake's copy of the env file (<conda-prefix>/), which is why the old `-e ../` named
# .snakemake/ instead of the checkout.
#
# --no-deps: the env file pins what this env's rules need; nnclaims' own list also names packages
# this env must not get (snakemake; torch in the analysis env).
# -e, as in `pip install -e .`: the env runs the checkout's src/ as it is now (Snakemake reuses an
# env until its .yaml or this file changes). An env in a --conda-prefix shared by several checkouts
# runs the code of the checkout that created it.
set -eu
root=$PWD
if ! grep -qs '^name = "nnclaims"' "$root/pyproject.toml"; then
    echo "nnclaims post-deploy: $root is not an nnclaims checkout (no pyproject.toml naming" \
        "nnclaims). Run snakemake from the checkout's root, where the Snakefile is." >&2
    exit 1
fi
python -m pip install --no-deps --no-input --disable-pip-version-check -e "$root"
