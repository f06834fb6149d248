"""Rules `data` and `download`: one dataset as .npz (generated, or fetched at pinned hashes)."""

from nnclaims.core import logs
from nnclaims.data import datasets as data

sm = snakemake  # noqa: F821 (snakemake is injected by the script directive)
log = logs.to_file(sm.log[0])
params = dict(sm.params)
digest = data.prepare(
    sm.wildcards.dataset,
    sm.output[0],
    cache_dir=params.get("cache_dir"),
    mirror=params.get("mirror"),
)
log.info("wrote %s (sha256 of arrays %s)", sm.output[0], digest)
