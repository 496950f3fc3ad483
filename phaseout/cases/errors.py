class CaseActionError(Exception):
    """A refused action; `message` is for the person who tried it, in their language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StaleCase(CaseActionError):
    """Someone else acted on the case first."""
