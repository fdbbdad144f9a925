"""The one place errors are defined.

Every error the server reports is a :class:`TermserverError`: it carries the HTTP status, the FHIR
``OperationOutcome.issue.code`` and, where it applies, a ``tx-issue-type`` code and a FHIRPath location.
One Flask error handler renders all of them (and 404/405/500) as an OperationOutcome.
"""
from __future__ import annotations


class TermserverError(Exception):
    """Base class: an error that becomes an OperationOutcome with a 4xx/5xx status."""

    status: int = 400
    issue_code: str = "processing"
    tx_code: str | None = None
    retry_after: int | None = None  # seconds, sent as Retry-After: when trying again later may succeed

    def __init__(self, message: str, *, status: int | None = None, issue_code: str | None = None,
                 tx_code: str | None = None, expression: str | None = None,
                 message_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_id = message_id  # the HL7 message key (services/messages.py) the text was made from
        if status is not None:
            self.status = status
        if issue_code is not None:
            self.issue_code = issue_code
        if tx_code is not None:
            self.tx_code = tx_code
        self.expression = expression


class InvalidRequest(TermserverError):
    """A parameter is missing, malformed or combined with one it excludes (400 invalid)."""

    status = 400
    issue_code = "invalid"


class UnsupportedRequest(TermserverError):
    """A well-formed request for something this server does not do (400 not-supported)."""

    status = 400
    issue_code = "not-supported"


class NotFound(TermserverError):
    """A resource, code system, value set, concept map or code that does not exist (404 not-found)."""

    status = 404
    issue_code = "not-found"
    tx_code = "not-found"


class UnknownCodeSystem(NotFound):
    """A code system URI (or version) that is not loaded."""


class VersionRuleError(TermserverError):
    """A code system version that a version rule of the request (``check-system-version``) does not allow
    (422: the request is well-formed, the content breaks its rule)."""

    status = 422
    issue_code = "exception"
    tx_code = "version-error"


class TooCostly(TermserverError):
    """An operation that would return more than the configured limit (400 too-costly)."""

    status = 400
    issue_code = "too-costly"


class RequestTooLarge(TooCostly):
    """A request body over the configured size limit (413 too-costly)."""

    status = 413


class StoreUnavailable(TermserverError):
    """The database cannot be reached (down, restarting, refusing connections): 503 transient, try again shortly."""

    status = 503
    issue_code = "transient"
    retry_after = 5


class QueryTimeout(TermserverError):
    """A database query stopped by the configured query time limit (503 too-costly)."""

    status = 503
    issue_code = "too-costly"


class MethodNotAllowed(TermserverError):
    """An HTTP method a route does not accept (405)."""

    status = 405
    issue_code = "not-supported"


class LoadError(Exception):
    """A release file that cannot be parsed or stored; the message names the file and, where known, the row."""

    def __init__(self, path: object, message: str, *, line: int | None = None) -> None:
        where = f"{path}" + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
