"""Ablation grid, seed aggregation, figures, tables and MLflow summary of a configuration."""
