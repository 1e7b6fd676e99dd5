"""Names the connector shares with `asterisk_conf/`: contexts, extensions, queue, variables."""

from __future__ import annotations

from typing import Final

# Inbound: the carrier trunk delivers 12345 (and the merged department lines) here.
INBOUND_CONTEXT: Final = "from-citizen"
HOTLINE_EXTEN: Final = "12345"
HOTLINE_QUEUE: Final = "hotline"

# One-key transfers: BlindTransfer/Atxfer/Redirect into `<context>`, extension = the line.
TRANSFER_110_CONTEXT: Final = "transfer-110"
TRANSFER_110_EXTEN: Final = "110"
TRANSFER_CONTEXT: Final = "transfer-line"
TRANSFER_LINES: Final = ("110", "119", "120", "12369", "12317")

# Three-way call: Redirect caller + agent and Originate the line into ConfBridge room <exten>.
CONFERENCE_CONTEXT: Final = "conf3way"
CONFERENCE_BRIDGE_PROFILE: Final = "hotline_bridge"
CONFERENCE_USER_PROFILE: Final = "hotline_user"

# Callback (回访): Originate Channel=PJSIP/<agent> Context=callback Exten=<citizen number>.
CALLBACK_CONTEXT: Final = "callback"

# Post-call survey: caller continues here after the agent hangs up (Queue option c).
SURVEY_CONTEXT: Final = "survey"
SURVEY_EVENT: Final = "Rating"
SURVEY_RATING_HEADER: Final = "Rating"
SURVEY_NO_RATING: Final = "none"
SURVEY_CALL_HEADER: Final = "CallId"
SURVEY_TICKET_HEADER: Final = "Ticket"

# Channel variables the connector sets or reads.
TICKET_VARIABLE: Final = "HOTLINE_TICKET"
CALLER_VARIABLE: Final = "HOTLINE_CALLER"
LINE_VARIABLE: Final = "HOTLINE_LINE"
TRANSFER_STATUS_VARIABLE: Final = "HOTLINE_XFER_STATUS"

CONTEXTS: Final = (
    INBOUND_CONTEXT,
    TRANSFER_110_CONTEXT,
    TRANSFER_CONTEXT,
    CONFERENCE_CONTEXT,
    CALLBACK_CONTEXT,
    SURVEY_CONTEXT,
)
VARIABLES: Final = (TICKET_VARIABLE, CALLER_VARIABLE, LINE_VARIABLE, TRANSFER_STATUS_VARIABLE)
