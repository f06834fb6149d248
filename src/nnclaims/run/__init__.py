"""Running: one run spec (or a batch) from its data to its run directory, the seed store that
reuses finished seeds, the claim tables, and the status of a results folder."""
