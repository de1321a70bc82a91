"""Corpus preparation: fetch -> parse -> clean -> decontaminate -> split/sample -> tokenizer -> shards.

One module per step; ``ems.data.cli`` exposes them as ``ems`` subcommands (see docs/data.md).
"""
