"""Callback signatures (plain and safe mode) and AES message crypto, on wechatpy; no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

from wechatpy.crypto import PrpCrypto  # type: ignore[import-untyped]

from connectors.wechat.errors import BadPayload, SignatureInvalid
from connectors.wechat.messages import encrypted_envelope


def signature(*parts: str) -> str:
    """WeChat's signature: sha1 of the parts (token, timestamp, nonce[, Encrypt]) sorted, joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class CallbackCrypto:
    """Verifies callbacks for one official account and (en|de)crypts safe-mode bodies."""

    def __init__(self, token: str, encoding_aes_key: str = "", app_id: str = "") -> None:
        if not token:
            raise ValueError("a WeChat callback needs the token set in the admin console")
        self.token = token
        self.app_id = app_id
        self._prp: PrpCrypto | None = None
        if encoding_aes_key:
            try:
                key = base64.b64decode(encoding_aes_key + "=", validate=True)
            except binascii.Error as e:
                raise ValueError("encoding_aes_key must be the 43-character key") from e
            if len(key) != 32:
                raise ValueError("encoding_aes_key must be the 43-character key")
            self._prp = PrpCrypto(key)

    @property
    def can_decrypt(self) -> bool:
        """Whether an EncodingAESKey is configured (compatible and safe mode need it)."""
        return self._prp is not None

    def check(self, sig: str, timestamp: str, nonce: str, *extra: str) -> None:
        """SignatureInvalid unless `sig` signs token+timestamp+nonce(+extra)."""
        if not sig or not timestamp or not nonce:
            raise SignatureInvalid("signature, timestamp and nonce are required")
        expected = signature(self.token, timestamp, nonce, *extra)
        if not hmac.compare_digest(expected, sig.lower()):
            raise SignatureInvalid("signature does not match")

    def decrypt(self, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """The plaintext XML of a safe-mode body, after its msg_signature is checked."""
        if self._prp is None:
            raise BadPayload("encrypted callback but no encoding_aes_key is configured")
        self.check(msg_signature, timestamp, nonce, encrypt)
        try:
            # wechatpy also checks that the trailing receive id is our AppID.
            plain: str = self._prp.decrypt(encrypt, self.app_id)
        except Exception as e:  # bad base64, padding, length or AppID: all the same to us
            raise BadPayload(f"cannot decrypt: {type(e).__name__}") from e
        return plain

    def encrypt(self, xml: str, nonce: str, timestamp: str | None = None) -> str:
        """A safe-mode envelope around `xml` (replies, and tests that play WeChat)."""
        if self._prp is None:
            raise ValueError("no encoding_aes_key configured")
        ts = timestamp or str(int(time.time()))
        encrypt = self._prp.encrypt(xml, self.app_id).decode()
        return encrypted_envelope(encrypt, signature(self.token, ts, nonce, encrypt), ts, nonce)


def new_nonce() -> str:
    """A nonce for an encrypted reply."""
    return secrets.token_hex(8)
