"""Datasets as plain arrays: the embedded ones, pinned downloads, per-seed draws, and the
in-memory containers the training loop gathers batches from."""
