"""The foundations every layer reads: hyperparameters and run ids, seeding, paths, atomic files,
provenance, the names the plan checks (catalog), and the kind and test-type base classes with
their registries. Imports no torch, numpy or pandas, and no other layer of nnclaims."""
