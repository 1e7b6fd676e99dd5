"""The composition root switches the mailbox's IMAP and SMTP halves on by configuration."""

from __future__ import annotations

from pathlib import Path

from connectors.mailbox.imap import ImapIntake
from hotline.bootstrap import build
from hotline.settings import load_settings


async def test_off_by_default_on_when_configured(tmp_path: Path) -> None:
    off = build(load_settings(data_dir=tmp_path / "a"))
    try:
        assert not any(isinstance(c, ImapIntake) for c in off.connectors)
        assert "mailbox" not in off.senders
    finally:
        await off.store.close()
    on = build(
        load_settings(
            data_dir=tmp_path / "b",
            mailbox={
                "imap_host": "127.0.0.1",
                "imap_user": "mayor",
                "smtp_host": "127.0.0.1",
                "mailboxes": [
                    {"key": "mayor", "name_zh": "市长信箱", "address": "Mayor@City.gov.cn"},
                    {"key": "jinniu", "name_zh": "金牛区区长信箱", "district": "jinniu"},
                ],
            },
        )
    )
    try:
        (imap,) = [c for c in on.connectors if isinstance(c, ImapIntake)]
        assert imap.config.addresses == {"mayor@city.gov.cn": "mayor"}
        assert "mailbox" in on.senders
    finally:
        await on.store.close()
