"""Training: the loop over K stacked models (engine), its optimizer, loop state, checkpoints,
progress, weights files, the tidy rows it writes, and the airbench recipe."""
