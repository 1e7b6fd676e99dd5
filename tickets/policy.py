"""The center's rules for deadlines, threading and ratings, with working defaults."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tickets.model import RatingLevel


class TicketRules(BaseModel):
    """How the center reckons deadlines and threads contacts."""

    threading_window_hours: float = Field(72, gt=0, le=24 * 90)
    simple_working_days: int = Field(5, ge=1, le=60)
    complex_working_days: int = Field(15, ge=1, le=120)
    urgent_hours: float = Field(24, gt=0, le=240)
    sign_working_days: int = Field(1, ge=1, le=10)
    urgent_sign_hours: float = Field(1, gt=0, le=48)
    warn_share: float = Field(0.8, gt=0, le=1)
    pause_clock_while_extension_pending: bool = True
    satisfied_levels: list[RatingLevel] = [
        RatingLevel.VERY_SATISFIED,
        RatingLevel.SATISFIED,
        RatingLevel.BASICALLY_SATISFIED,
    ]
    return_reasons: list[str] = [
        "not_our_jurisdiction",
        "wrong_district",
        "duplicate",
        "insufficient_information",
        "other",
    ]
    review_channels: list[str] = []
