"""Data sources (fetch + checksum), per-task datasets and splits, DVC helpers."""
