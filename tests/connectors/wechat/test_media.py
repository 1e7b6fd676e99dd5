"""A citizen's picture, voice or video: fetched after the reply, stored, on the ticket."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from connectors.media import MediaDownloads
from connectors.wechat.messages import MEDIA_REF_PREFIX
from tests.connectors.wechat.conftest import MAX_MEDIA, Wechat, fixture_bytes, safe_mode, signed
from tests.fakes.wechat_api import WechatApiFake
from tickets.model import Role
from tickets.privacy import Viewer

AGENT = Viewer("agent", Role.AGENT)
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 100
AMR = b"#!AMR\n" + b"\x3c" * 400
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 300


def fake_of(wechat: Wechat) -> WechatApiFake:
    assert wechat.fake is not None
    return wechat.fake


def downloads(wechat: Wechat) -> MediaDownloads:
    assert wechat.callback.media is not None
    return wechat.callback.media


def media_gets(wechat: Wechat) -> list[dict[str, str]]:
    return [r.query for r in fake_of(wechat).requests if r.path == "/cgi-bin/media/get"]


async def ticket_files(wechat: Wechat) -> list[dict[str, object]]:
    """The files on the ticket as an agent sees it (the ticket of the first contact)."""
    contact = (await wechat.contacts())[0]
    async with wechat.service.store.read() as tx:
        row = await tx.ticket(ticket_id=contact["ticket_id"])
    assert row is not None
    t = await wechat.service.view(row["number"], AGENT)
    return [a for c in t["contacts"] for a in c["attachments"]]


def media_message(
    kind: str, media_id: str, msg_id: int, created: int
) -> tuple[dict[str, str], str]:
    """A safe-mode picture, voice or video message from one citizen."""
    extra = "<Format><![CDATA[amr]]></Format><Recognition><![CDATA[路灯坏了]]></Recognition>"
    xml = (
        "<xml><ToUserName><![CDATA[gh_hotline]]></ToUserName>"
        f"<FromUserName><![CDATA[oWx_media]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[{kind}]]></MsgType><MediaId><![CDATA[{media_id}]]></MediaId>"
        f"{extra if kind == 'voice' else '<ThumbMediaId><![CDATA[thumb]]></ThumbMediaId>'}"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )
    return safe_mode(xml, nonce=f"n{msg_id}")


async def post_media(wechat: Wechat, kind: str, media_id: str, msg_id: int = 7001) -> None:
    created = int(wechat.service.clock().timestamp())
    query, body = media_message(kind, media_id, msg_id, created)
    resp = await wechat.post(body, query)
    assert resp.status == 200


async def test_picture_is_fetched_after_the_reply_stored_and_shown_on_the_ticket(
    wechat: Wechat,
) -> None:
    fake = fake_of(wechat)
    fake.media["media_id"] = (JPEG, "image/jpeg")
    fake.media_gate = asyncio.Event()  # WeChat's media server is slow today
    resp = await asyncio.wait_for(wechat.post(fixture_bytes("wechatpy_image.xml"), signed()), 5)
    # The answer did not wait for the download, which cannot have finished.
    assert resp.status == 200 and await resp.text() == "success"
    [placeholder] = await ticket_files(wechat)
    assert placeholder["ref"] == MEDIA_REF_PREFIX + "media_id"
    fake.media_gate.set()
    await downloads(wechat).drain()
    [stored] = await ticket_files(wechat)
    assert (stored["name"], stored["content_type"]) == ("media_id.jpg", "image/jpeg")
    assert stored["size"] == len(JPEG) and str(stored["ref"]).startswith("sha256:")
    path = downloads(wechat).files.path_of(str(stored["ref"]))
    assert path is not None and path.read_bytes() == JPEG
    [get] = media_gets(wechat)
    assert get["media_id"] == "media_id" and get["access_token"] == fake.token
    # WeChat delivers the same message again: no second download, still one file.
    assert (await wechat.post(fixture_bytes("wechatpy_image.xml"), signed())).status == 200
    await downloads(wechat).drain()
    assert len(media_gets(wechat)) == 1 and len(await ticket_files(wechat)) == 1


async def test_a_refused_token_is_fetched_anew_and_the_voice_still_arrives(
    wechat: Wechat,
) -> None:
    fake = fake_of(wechat)
    assert wechat.api is not None
    fake.media["voice-1"] = (AMR, "audio/amr")
    cached = await wechat.api.access_token()
    fake.expire_token()  # WeChat no longer takes the cached token
    await post_media(wechat, "voice", "voice-1")
    await downloads(wechat).drain()
    [stored] = await ticket_files(wechat)
    assert stored["size"] == len(AMR) and stored["content_type"] == "audio/amr"
    first, second = media_gets(wechat)
    assert first["access_token"] == cached != fake.token
    assert second["access_token"] == fake.token and wechat.api.token_fetches == 2
    # the voice's recognized words are what the ticket says
    (contact,) = await wechat.contacts()
    assert contact["text"] == "路灯坏了"


async def test_media_server_errors_are_retried_with_backoff(wechat: Wechat) -> None:
    fake = fake_of(wechat)
    fake.media["img-2"] = (JPEG, "image/jpeg")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    downloads(wechat).sleep = sleep
    fake.fail_next(2, status=502)  # twice a bad gateway …
    fake.fail_next(1, errcode=-1)  # … then "system busy"
    await post_media(wechat, "image", "img-2")
    await downloads(wechat).drain()
    assert waits == [0.01, 0.02, 0.04]  # doubling each time
    assert len(media_gets(wechat)) == 4
    [stored] = await ticket_files(wechat)
    assert str(stored["ref"]).startswith("sha256:") and downloads(wechat).stored == 1


async def test_unavailable_media_stays_a_placeholder_and_is_fetched_on_the_next_start(
    wechat: Wechat,
) -> None:
    fake = fake_of(wechat)
    media = downloads(wechat)
    media.attempts = 2
    fake.fail_next(2, status=503)
    await post_media(wechat, "image", "img-3")
    await media.drain()
    [kept] = await ticket_files(wechat)
    assert kept["ref"] == MEDIA_REF_PREFIX + "img-3" and media.failed == 1
    # The center restarts: what is still a placeholder is queued again.
    fake.media["img-3"] = (JPEG, "image/jpeg")
    since = wechat.service.clock() - timedelta(days=3)
    assert await media.resume(wechat.service.files_to_fetch, since) == 1
    await media.drain()
    [stored] = await ticket_files(wechat)
    assert str(stored["ref"]).startswith("sha256:")
    assert await media.resume(wechat.service.files_to_fetch, since) == 0


async def test_oversized_and_expired_media_are_recorded_as_refused_not_retried(
    wechat: Wechat,
) -> None:
    fake = fake_of(wechat)
    fake.media["big"] = (b"\xff\xd8" + b"x" * MAX_MEDIA, "image/jpeg")
    await post_media(wechat, "image", "big", 7101)
    await post_media(wechat, "image", "gone", 7102)  # unknown to WeChat: 40007
    await downloads(wechat).drain()
    files = await ticket_files(wechat)
    assert sorted(str(a["ref"]) for a in files) == ["rejected:size", "rejected:unavailable"]
    assert len(media_gets(wechat)) == 2  # one try each: retrying cannot help
    assert not list(downloads(wechat).files.root.rglob("*"))  # nothing kept on disk


async def test_video_is_fetched_from_the_url_media_get_names(wechat: Wechat) -> None:
    fake = fake_of(wechat)
    fake.media["vid-1"] = (MP4, "video/mp4")
    await post_media(wechat, "video", "vid-1")
    await downloads(wechat).drain()
    [stored] = await ticket_files(wechat)
    assert (stored["name"], stored["size"]) == ("vid-1.mp4", len(MP4))
    assert [r.path for r in fake.requests if r.path != "/cgi-bin/token"] == [
        "/cgi-bin/media/get",
        "/video/vid-1",
    ]
