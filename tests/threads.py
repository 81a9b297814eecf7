"""Helper threads whose failure fails the test (a plain thread's exception is printed and
lost, and the test goes on as if the helper had done its work)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Checked(threading.Thread):
    """``join()`` re-raises what the thread raised, and fails if it is still running."""

    def __init__(self, target: Callable[..., Any], *args: Any, name: str | None = None) -> None:
        super().__init__(target=target, args=args, name=name, daemon=True)
        self.error: BaseException | None = None
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self._target(*self._args)  # type: ignore[attr-defined]
        except BaseException as exc:  # noqa: BLE001 - handed to the test at join()
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.is_alive():
            raise AssertionError(f"helper thread {self.name} still running after {timeout} s")
        if self.error is not None:
            raise AssertionError(
                f"helper thread {self.name} failed: {self.error!r}"
            ) from self.error
