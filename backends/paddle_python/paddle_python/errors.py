"""Errors that tell the caller what was wrong with their request."""


class InputError(ValueError):
    """The request's input is unusable; reported to the caller as INVALID_ARG."""
