"""Errors that reach people: one clear line naming what was received and what was expected."""


class InputError(ValueError):
    """Unusable input (a file, a parameter, a code): the CLI exits 2, the API answers 4xx.

    Parameters
    ----------
    message : str
        One line: what was received and what was expected.
    param : str, optional
        The parameter or file the message is about (used in API error bodies).

    Examples
    --------
    >>> str(InputError("level 'county' is not one of parish, ward", param="level"))
    "level 'county' is not one of parish, ward"
    """

    status_code = 400

    def __init__(self, message: str, *, param: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.param = param
        if status_code is not None:
            self.status_code = status_code


class NotFoundError(InputError):
    """A well-formed request for something the store does not hold (unknown area code, layer not loaded)."""

    status_code = 404
