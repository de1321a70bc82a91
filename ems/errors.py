"""Exceptions that carry a message meant for the user (file, line or key named)."""

from __future__ import annotations


class EmsError(Exception):
    """Base class of errors that the CLI prints without a traceback."""


class ConfigError(EmsError):
    """The configuration is invalid; the message names the key."""


class DataError(EmsError):
    """An input file is malformed; the message names the file (and line where known)."""


class UnknownLanguageError(DataError):
    """A language code that the language table does not know."""


class TrackingError(EmsError):
    """The tracking store (MLflow) cannot be reached or refused a write; the message names its URI, redacted."""


class OutputError(EmsError):
    """An output cannot be written (e.g. a full disk); the message names the file."""


class Interrupted(KeyboardInterrupt):
    """A signal (SIGTERM: Snakemake or the scheduler cancelling a job) turned into an interrupt.

    A ``KeyboardInterrupt`` so that every ``except KeyboardInterrupt`` cleanup runs as for Ctrl-C;
    ``signum`` gives the shell's exit status (128 + the number) without parsing the message.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum
