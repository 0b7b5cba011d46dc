"""The report's error kinds, each mapped by report.py to bitlab's exit codes and
printed as one line (`bitlab: report: ...`)."""


class UsageError(Exception):
    """The user named something that is not a result file (missing, a folder, a FIFO,
    another kind of document): exit 2."""


class InputError(Exception):
    """A result file that is broken (not JSON, a field of the wrong type, nested too
    deep): exit 1."""


class SetupError(Exception):
    """This python3 lacks what the report needs (matplotlib): exit 1."""


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP: a BaseException, like KeyboardInterrupt, so that no
    `except Exception` swallows it before the temporaries are removed."""
