"""Rule `data`: generate one embedded dataset as .npz."""

from nnclaims import data, logs

log = logs.to_file(snakemake.log[0])  # noqa: F821 (snakemake is injected by the script directive)
digest = data.prepare(snakemake.wildcards.dataset, snakemake.output[0])  # noqa: F821
log.info("wrote %s (sha256 of arrays %s)", snakemake.output[0], digest)  # noqa: F821
