from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outcome:
    """What one attempt did, whatever the target type."""

    ok: bool
    duration_ms: int = 0
    http_status: int | None = None
    snippet: str | None = None
    error: str | None = None
    # timeout | connection | request | http_status | unsupported | ... : stable, for
    # filters, metrics and the API, while `error` keeps the technical detail in English.
    error_code: str | None = None
    # What the words need (a host, a status, a recipient...): the reader's language is
    # chosen when a page or an API answer shows the outcome (chronoflow/outcomes.py).
    params: dict = field(default_factory=dict)
    retryable: bool = False
    retry_after_s: float | None = None
    result: dict = field(default_factory=dict)

    @classmethod
    def failure(cls, error_code, error, duration_ms=0, retryable=True, result=None, params=None):
        return cls(
            ok=False,
            error_code=error_code,
            params=params or {},
            error=error,
            duration_ms=duration_ms,
            retryable=retryable,
            result=result or {},
        )
