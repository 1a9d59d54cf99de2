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
    # filters and translated labels, while `error` keeps the technical detail.
    error_code: str | None = None
    retryable: bool = False
    retry_after_s: float | None = None
    result: dict = field(default_factory=dict)

    @classmethod
    def failure(cls, error_code, error, duration_ms=0, retryable=True, result=None):
        return cls(
            ok=False,
            error_code=error_code,
            error=error,
            duration_ms=duration_ms,
            retryable=retryable,
            result=result or {},
        )
