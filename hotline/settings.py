"""Typed settings with working defaults: CLI > environment (HOTLINE_…) > TOML file > defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tickets.policy import TicketRules


class AsteriskSettings(BaseModel):
    """The AMI connection; with no host the telephony connector stays off."""

    host: str | None = None
    port: int = Field(5038, ge=1, le=65535)
    username: str = "hotline"
    secret: SecretStr = SecretStr("")
    # Transfer lines by short name → the dial string in asterisk_conf/pjsip.conf.
    lines: dict[str, str] = {
        "110": "PJSIP/110@police110",
        "119": "PJSIP/119@fire119",
        "120": "PJSIP/120@medical120",
        "12369": "PJSIP/12369@env12369",
        "12317": "PJSIP/12317@pov12317",
    }
    # Department lines folded into 12345: dialed number → the line's name (kept on the ticket).
    merged_lines: dict[str, str] = {
        "12345": "12345政务服务便民热线",
        "12369": "12369环保举报热线",
        "12317": "12317扶贫监督热线",
    }
    service_level_seconds: float = Field(15, gt=0, le=120)
    missed_callback_hours: float = Field(2, gt=0, le=72)


class WechatSettings(BaseModel):
    """The WeChat official account; the callback is on when `token` is set."""

    token: SecretStr = SecretStr("")
    encoding_aes_key: SecretStr = SecretStr("")
    app_id: str = ""
    app_secret: SecretStr = SecretStr("")
    api_base_url: str = "https://api.weixin.qq.com"
    # notice kind (accepted, dispatched, result, rating_request, default) → template id,
    # used outside the 48-hour customer-service window
    templates: dict[str, str] = {}
    rating_url: str = ""  # a rating page linked from the template; "{ticket}" is filled in


class TelegramSettings(BaseModel):
    """The Telegram bot; on when `bot_token` is set (webhook, or polling for development)."""

    bot_token: SecretStr = SecretStr("")
    webhook_secret: SecretStr = SecretStr("")
    webhook_url: str = ""  # the public URL of /telegram/webhook, given to setWebhook
    polling: bool = False
    api_base_url: str = "https://api.telegram.org/bot"


class MailboxEntrySettings(BaseModel):
    """One leader's mailbox in the public form and for e-mail intake."""

    key: str = Field(pattern=r"^[a-z0-9_.-]{1,64}$")
    name_zh: str
    name_en: str = ""
    address: str | None = None  # e-mail address letters to this mailbox arrive at
    district: str | None = None  # a district head's mailbox: letters belong to that district
    department: str | None = None


class MailboxSettings(BaseModel):
    """The mayor's mailbox: IMAP intake and SMTP replies are off while their host is empty."""

    imap_host: str | None = None
    imap_port: int = Field(143, ge=1, le=65535)
    imap_ssl: bool = False
    imap_user: str = ""
    imap_password: SecretStr = SecretStr("")
    imap_folder: str = "INBOX"
    imap_poll_seconds: float = Field(30, gt=0)
    imap_move_to: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_tls: bool = False
    smtp_from: str = "mayor@hotline.local"
    smtp_from_name: str = "12345 市长信箱"
    site_url: str = ""  # public address of this site, for the progress link in e-mails
    mailboxes: list[MailboxEntrySettings] = [
        MailboxEntrySettings(key="mayor", name_zh="市长信箱", name_en="Mayor's mailbox")
    ]
    max_message_bytes: int = Field(30 * 1024 * 1024, ge=1024)
    attachment_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    attachment_max_total_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    attachment_max_count: int = Field(5, ge=0, le=50)
    form_per_ip_per_hour: int = Field(10, ge=1)
    form_per_phone_per_day: int = Field(5, ge=1)


class OnlineSettings(BaseModel):
    """The routing of online contacts (chats and letters) to agents.

    After-call work and the most concurrent chats are service levels admins set at run time.
    """

    offer_seconds: float = Field(30, gt=0, le=600)  # an offer not taken goes to the next agent


class BriefingSettings(BaseModel):
    """The leaders' briefing: when it goes out (local time) and to whom."""

    time: str = Field("17:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    weekly_weekday: int = Field(0, ge=0, le=6)  # 0 Monday: the week before goes out that day
    monthly_day: int = Field(1, ge=1, le=28)  # the month before goes out that day
    catch_up_hours: float = Field(12, ge=0, le=72)  # a briefing missed by downtime, sent late
    leader_emails: list[str] = []
    # Departments whose bound Telegram groups get the briefing (the center's own by default).
    telegram_departments: list[str] = ["hotline"]
    min_follow_ups: int = Field(10, ge=1)  # the ranking's minimum, as on /reports/ranking


class FigureSettings(BaseModel):
    """How the figures are counted: the statistics office's rules (see reports/figures.py)."""

    # 即时响应率: a contact is answered in time within its channel's limit, in seconds.
    response_seconds: dict[str, float] = {
        "phone": 15, "wechat": 180, "telegram": 180, "sms": 180, "mailbox": 86400, "web": 86400,
    }  # fmt: skip
    default_response_seconds: float = Field(86400, gt=0)
    feedback_hours: float = Field(24, gt=0)  # 及时反馈率: the citizen told within this long
    # 满意率: the rating levels that count as satisfied.
    satisfied: list[
        Literal["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied"]
    ] = ["very_satisfied", "satisfied", "basically_satisfied"]
    # 服务指数 weights (Huzhou by default); they add up to 1.
    weights: dict[str, float] = {
        "response": 0.15, "on_time": 0.15, "feedback": 0.10, "satisfaction": 0.60,
    }  # fmt: skip

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        names = ("response", "on_time", "feedback", "satisfaction")
        if any(k not in names for k in value) or any(not 0 <= v <= 1 for v in value.values()):
            raise ValueError("weights of " + ", ".join(names) + ", each from 0 to 1")
        if abs(sum(value.values()) - 1) > 0.001:
            raise ValueError("weights must add up to 1")
        return value

    @field_validator("response_seconds")
    @classmethod
    def _limits(cls, value: dict[str, float]) -> dict[str, float]:
        if any(v <= 0 for v in value.values()):
            raise ValueError("each channel's limit is a number of seconds above 0")
        return value


Consequence = Literal["talk", "criticism", "reassign", "suspend", "dismiss"]


class ReviewSettings(BaseModel):
    """Bad reviews (3-5-15) and the first-contact responsibility ledger."""

    # Valid complaints against one person within two years → what follows (Jiangmen's table).
    consequences: dict[int, Consequence] = {
        1: "talk", 2: "criticism", 3: "reassign", 4: "suspend", 5: "dismiss",
    }  # fmt: skip
    warn_share: float = Field(0.8, gt=0, le=1)  # a step's warning, as a share of its time

    @field_validator("consequences")
    @classmethod
    def _thresholds(cls, value: dict[int, str]) -> dict[int, str]:
        if not value or min(value) < 1:
            raise ValueError("thresholds are whole numbers from 1, at least one")
        return value


class Settings(BaseSettings):
    """Everything the center can be told; nothing is required."""

    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path("./hotline-data")
    # Where Asterisk's MixMonitor writes the calls (<day>/<call id>.wav); default
    # <data_dir>/recordings. The console serves them from here, never from elsewhere.
    recordings_dir: Path | None = None
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    timezone: str = "Asia/Shanghai"
    locale: str = Field("zh", pattern="^(zh|en)$")
    secret_key: SecretStr | None = None
    max_body_bytes: int = Field(1_048_576, ge=1024)
    session_hours: float = Field(12, gt=0)
    tickets: TicketRules = TicketRules()
    asterisk: AsteriskSettings = AsteriskSettings()
    wechat: WechatSettings = WechatSettings()
    telegram: TelegramSettings = TelegramSettings()
    mailbox: MailboxSettings = MailboxSettings()
    briefing: BriefingSettings = BriefingSettings()
    online: OnlineSettings = OnlineSettings()
    reviews: ReviewSettings = ReviewSettings()
    figures: FigureSettings = FigureSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB")
        return value

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the SQLite file in the data directory."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'hotline.db'}"


class SettingsError(Exception):
    """A bad configuration value, with a message an operator can act on."""


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from CLI overrides, HOTLINE_… variables, an optional TOML file and defaults."""
    if config_file is not None and not config_file.is_file():
        raise SettingsError(f"config file not found: {config_file}")

    class _FromSources(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources = [init_settings, env_settings]
            if config_file is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
            return tuple(sources)

    try:
        return _FromSources(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            env = "HOTLINE_" + "__".join(str(p).upper() for p in err["loc"])
            lines.append(f"  {key} (env {env}): {err['msg']}; got {err.get('input')!r}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets shown as ****."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    if settings.database_url and "@" in settings.database_url:
        scheme, _, rest = settings.database_url.partition("://")
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        data["database_url"] = f"{scheme}://{user}:****@{host}"
    data["effective_database_url"] = data["database_url"] or settings.effective_database_url
    out: dict[str, Any] = _mask(data)
    return out


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str) and value.startswith("*****"):
        return "****"
    return value
