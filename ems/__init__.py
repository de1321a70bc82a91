"""EMS workflow: corpus preparation, training, evaluation and tracking for EMS sentence embeddings."""

__version__ = "0.1.0"
