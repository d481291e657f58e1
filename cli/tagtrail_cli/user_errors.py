"""Errors a command reports as one plain line, with no traceback: the user can fix them."""


class UserError(Exception):
    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
