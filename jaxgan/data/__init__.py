"""Data sources and batch pipelines."""
