"""The one error a document reader raises: a message for the official, in Vietnamese."""


class IngestError(ValueError):
    """The file cannot become knowledge as it is (unreadable, scanned, empty, unknown type)."""
