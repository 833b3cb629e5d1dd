"""Errors that tell the caller what was wrong with their request."""


class InputError(ValueError):
    """The request's input is unusable; reported to the caller as INVALID_ARG.

    ``reason`` is a short fixed label (``empty``, ``undecodable``, ...) for the rejected-inputs
    metric; the message is for the caller.
    """

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason
