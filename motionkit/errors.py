"""The one exception type users see: the CLI turns it into a single line, without a traceback."""


class MotionkitError(Exception):
    """A problem with the user's input or request, worded for the user.

    ``source`` names the file (or ``-``) the problem is in, and ``line`` the line number when known;
    ``str()`` joins them into the one line the CLI prints.
    """

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        self.message = message
        self.source = source
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = f"{self.source}:{self.line}: " if self.line is not None else f"{self.source}: "
        return where + self.message
