"""The WeChat connector's errors, one tree, each raised `from` its cause."""

from __future__ import annotations


class WechatError(Exception):
    """Anything that went wrong talking to WeChat."""


class SignatureInvalid(WechatError):
    """A callback whose signature (or msg_signature) does not match our token: refuse, 403."""


class BadPayload(WechatError):
    """A callback body we will not parse: malformed XML, a DTD or entities, bad ciphertext."""


class ApiError(WechatError):
    """The WeChat API answered with a non-zero `errcode`."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"wechat api error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class ApiUnavailable(WechatError):
    """The WeChat API could not be reached or answered with an HTTP error."""


class MediaTooLarge(WechatError):
    """A media file larger than we keep (checked before and while reading it)."""
