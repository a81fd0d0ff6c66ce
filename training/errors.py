"""The PolymixError family: user mistakes get a message that says what is wrong and how to fix it."""


class PolymixError(Exception):
    """Base class: an error the user can fix; the CLI prints it on one line and exits with code 2."""


class ConfigError(PolymixError):
    """A study file or override is invalid; the message names the YAML field."""


class DataError(PolymixError):
    """A data file is missing, malformed or misaligned; the message names the file (and row)."""


class ModelError(PolymixError):
    """A model path or hub id cannot be resolved."""
