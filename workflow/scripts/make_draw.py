"""Rule `draw`: one data seed's own draw of an embedded dataset, as .npz."""

from nnclaims.core import logs
from nnclaims.data import datasets as data

sm = snakemake  # noqa: F821 (snakemake is injected by the script directive)
log = logs.to_file(sm.log[0])
digest = data.make_draw(sm.wildcards.dataset, int(sm.wildcards.seed), sm.output[0])
log.info("wrote %s (data seed %s, sha256 of arrays %s)", sm.output[0], sm.wildcards.seed, digest)
