"""Evaluators: retrieval (Tatoeba, FLORES), BUCC-style mining, zero-shot classification.

Each evaluator is a callable ``evaluator(encoder) -> EvalResult`` (flat metrics with a
named primary metric, per-language rows, parameters, explicit skips); the same object
serves during training (dev retrieval) and after it. See docs/evaluation.md.
"""

from __future__ import annotations

from ems.evaluation.result import EvalResult

__all__ = ["EvalResult"]
