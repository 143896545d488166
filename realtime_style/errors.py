"""The error types the runtime raises. ``cli.py`` turns each into one line and exit 1.

Anything that is not a :class:`StyleError` is a bug and keeps its traceback.
"""


class StyleError(Exception):
    """A failure the user can act on; the message says what happened and what to do."""


class InputError(StyleError):
    """An input file or directory is missing, unreadable or not what it claims to be."""


class OutputError(StyleError):
    """An output cannot be written (unwritable directory, full disk, existing file)."""


class ModelError(StyleError):
    """A model file or checkpoint is missing, malformed or of the wrong signature."""


class ModelNotFound(ModelError):
    """No model of that name in the registry."""


class ProviderError(StyleError):
    """An execution provider that was asked for explicitly cannot load."""


class ServeError(StyleError):
    """The web studio cannot start: its address is taken, a TLS file is missing, a token is needed."""


class MissingExtra(StyleError):
    """A command needs an optional dependency group that is not installed."""


class QuietExit(Exception):
    """End the process with ``code`` and say nothing: a torchrun process other than rank 0,
    whose errors rank 0 reports."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code
