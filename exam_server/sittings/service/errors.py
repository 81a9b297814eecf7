"""The sitting service's refusal (a code the terminal and the console turn into words)."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal that is not one of the timing rules (identity, seat, protocol state)."""

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        retry: bool = False,
        params: dict[str, object] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.retry = retry
        #: figures the message names (``exam_server.messages.message``)
        self.params: dict[str, object] = params or {}
