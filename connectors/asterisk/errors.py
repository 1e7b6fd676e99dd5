"""The AMI connector's error tree; the router turns these into domain outcomes for the agent."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AmiActionFailed",
    "AmiConnectionError",
    "AmiError",
    "AmiLoginFailed",
    "AmiTimeout",
]


class AmiError(Exception):
    """Anything that went wrong talking to Asterisk."""


class AmiConnectionError(AmiError):
    """No usable AMI connection: refused, lost, closed, or not (yet) logged in."""


class AmiLoginFailed(AmiConnectionError):
    """Asterisk refused the Login (`Response: Error`); `message` is Asterisk's text."""

    def __init__(self, message: str) -> None:
        super().__init__(f"AMI login refused: {message}")
        self.message = message


class AmiActionFailed(AmiError):
    """Asterisk answered an action with `Response: Error` (or a failed outcome event).

    `message` is Asterisk's own text (`No such channel`, `Interface not found`...), shown to the
    agent as is; `response` is the whole answer block.
    """

    def __init__(
        self, action: str, message: str, response: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{action} failed: {message}")
        self.action = action
        self.message = message
        self.response = dict(response) if response is not None else {}


class AmiTimeout(AmiError):
    """Asterisk did not answer `action` within `seconds`."""

    def __init__(self, action: str, seconds: float) -> None:
        super().__init__(f"{action}: no answer from Asterisk within {seconds:g} s")
        self.action = action
        self.seconds = seconds
