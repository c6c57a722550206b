class IngestError(Exception):
    """A problem with the input itself. Permanent: retrying the same bytes cannot help."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None, column: str = ""):
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.source or "<input>"]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}"

    def located(self, *, source: str) -> "IngestError":
        return IngestError(self.message, source=source, line=self.line, column=self.column)


def quoted(value: object, *, limit: int = 80) -> str:
    """A value from the input as an error message shows it: quoted, and cut short, so that a
    10 MB cell does not become a 10 MB message."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


class SourceUnavailable(Exception):
    """The place files come from did not answer (network, throttling, a 5xx). Transient:
    the same request may succeed later, so tasks retry it with backoff."""
