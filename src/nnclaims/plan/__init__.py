"""Planning: the config (read and checked), the claims registry, the runs a config asks for,
the checks beyond the schema, job resources, and the generated config reference. Imports no
torch, numpy or pandas: Snakemake plans on a submit host with this layer alone."""
