"""Errors shared by the data plane and the application. Pure Python: no Django import."""


class UserError(Exception):
    """A problem with what the user gave us (argument, file, definition).

    Shown as one line naming what is wrong; the command exits with code 2 and changes nothing.
    """

    exit_code = 2
