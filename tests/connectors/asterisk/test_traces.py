"""One test per recorded AMI trace: the whole list of call records the tracker produces.

Traces live beside the repository in ../shared/ami-traces (see its README for provenance).
They were captured without `timestampevents`, so times come from the replay's TraceClock
(Uniqueid seconds, RTCP SentNTP, EventTV); durations Asterisk reports itself (HoldTime,
RingTime, TalkTime) are exact, the others are second-resolution estimates. Asterisk 11 traces
(`*_ast11`) use the old event model (no Linkedid, Dial/Bridge/Masquerade): only the calls'
skeleton (caller, dialed, hangup cause, queue events) is reproduced for them.
"""

from __future__ import annotations

from pathlib import Path

from connectors.asterisk.replay import ReplayResult, replay_file
from connectors.asterisk.tracker import CallRecord, Mark, RingAttempt, Transfer

TRACES = Path(__file__).parents[3].parent / "shared" / "ami-traces"


def replay(name: str) -> ReplayResult:
    return replay_file(TRACES / name)


def test_every_trace_has_a_test() -> None:
    names = {path.name for path in TRACES.glob("*.ami")}
    source = Path(__file__).read_text(encoding="utf-8")
    assert names and all(f'"{name}"' in source for name in names)


def test_blind_transfer_to_110_timing_marks() -> None:
    result = replay("real-asterisk-22.10.1__blind-transfer-to-110.ami")
    marks = [(u.what, u.detail) for u in result.updates if isinstance(u, Mark)]
    assert [m for m in marks if m[0] != "hangup"] == [
        ("arrived", ""),
        ("queue_join", "hotline"),
        ("agent_ring", "PJSIP/8001"),
        ("queue_leave", "hotline"),
        ("answered", "PJSIP/8001"),
        ("transfer_requested", "110@transfer-110"),
        ("agent_complete", "transfer"),
        ("transfer_dial", "PJSIP/police110"),
        ("transfer_answered", "ANSWER"),
    ]


def test_three_way_call_timing_marks_and_merge() -> None:
    result = replay("real-asterisk-22.10.1__three-way-confbridge.ami")
    marks = [(u.what, u.detail) for u in result.updates if isinstance(u, Mark)]
    joins = [m for m in marks if m[0].startswith("conference_")]
    assert joins == [
        ("conference_join", "PJSIP/8001"),
        ("conference_join", "PJSIP/citizen"),
        ("conference_join", "PJSIP/police110"),
        ("conference_leave", "PJSIP/police110"),
        ("conference_leave", "PJSIP/8001"),
        ("conference_leave", "PJSIP/citizen"),
    ]


def test_cacofonisk_old__attended_transfer_full_varset_ast11() -> None:
    result = replay("cacofonisk-old__attended_transfer_full_varset_ast11.ami")
    assert result.records == [
        CallRecord(
            call_id="vgua0-dev-1442387090.552",
            direction="inbound",
            caller="126680001",
            dialed="202",
            hangup_cause=16,
        ),
        CallRecord(
            call_id="vgua0-dev-1442387091.556",
            direction="inbound",
            caller="126680001",
            dialed="203",
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (672, 0)


def test_cacofonisk_old__direct_call_busy17_full_varset_ast11() -> None:
    result = replay("cacofonisk-old__direct_call_busy17_full_varset_ast11.ami")
    assert result.records == [
        CallRecord(
            call_id="63f2f9ce924a-1501851519.239",
            direction="inbound",
            caller="150010002",
            dialed="201",
            hangup_cause=17,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (279, 0)


def test_cacofonisk_old__queue_abandoned_full_varset_ast11() -> None:
    result = replay("cacofonisk-old__queue_abandoned_full_varset_ast11.ami")
    assert result.records == [
        CallRecord(
            call_id="0f00dcaa884f-1508767736.46",
            direction="inbound",
            caller="150010003",
            dialed="401",
            hangup_cause=0,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (284, 0)


def test_cacofonisk_old__queue_answered_agentcalled_agentconnect_ast11() -> None:
    result = replay("cacofonisk-old__queue_answered_agentcalled_agentconnect_ast11.ami")
    assert result.records == [
        CallRecord(
            call_id="e83df36bebbe-1507019163.62",
            direction="inbound",
            caller=None,
            dialed="ID690150",
            hangup_cause=0,
        ),
        CallRecord(
            call_id="e83df36bebbe-1507019160.61",
            direction="inbound",
            caller="+31150010002",
            dialed="+31150010004",
            queue="1-1",
            queue_wait=9.0,
            answered=True,
            agent="Local/ID690150@osvpi_route_phoneaccount",
            agent_name="Local/ID690150@osvpi_route_phoneaccount",
            ring_time=9.0,
            talk_time=5.0,
            rang=(
                RingAttempt(
                    agent="Local/ID690150@osvpi_route_phoneaccount",
                    outcome="answered",
                    ring_time=9.0,
                ),
            ),
            hangup_cause=0,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (37, 0)


def test_cacofonisk__attended_transfer_abbcac() -> None:
    result = replay("cacofonisk__attended_transfer_abbcac.ami")
    assert result.records == [
        CallRecord(
            call_id="195176c06ab8-1529941338.663",
            direction="inbound",
            caller="150010001",
            dialed="202",
            answered=True,
            agent="SIP/150010002",
            ring_time=0.0,
            talk_time=5.0,
            transfers=(
                Transfer(
                    kind="attended",
                    target="SIP/150010003",
                    by="SIP/150010002",
                    outcome="ANSWER",
                    answered_by="SIP/150010003",
                ),
            ),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (95, 0)


def test_cacofonisk__blind_transfer_abacbc() -> None:
    result = replay("cacofonisk__blind_transfer_abacbc.ami")
    assert result.records == [
        CallRecord(
            call_id="07b796be1962-1529998985.130",
            direction="inbound",
            caller="150010001",
            dialed="202",
            answered=True,
            agent="SIP/150010002",
            ring_time=0.0,
            talk_time=0.0,
            transfers=(
                Transfer(
                    kind="blind",
                    target="203@osvpi_account_transfer",
                    by="SIP/150010001",
                    outcome="ANSWER",
                    answered_by="SIP/150010003",
                    setup_time=8.0,
                ),
            ),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (87, 0)


def test_cacofonisk__blind_transfer_target_no_answer() -> None:
    result = replay("cacofonisk__blind_transfer_target_no_answer.ami")
    assert result.records == [
        CallRecord(
            call_id="07b796be1962-1530000295.403",
            direction="inbound",
            caller="150010001",
            dialed="202",
            answered=True,
            agent="SIP/150010002",
            ring_time=0.0,
            talk_time=0.0,
            transfers=(
                Transfer(
                    kind="blind",
                    target="203@osvpi_account_transfer",
                    by="SIP/150010002",
                    outcome="NOANSWER",
                ),
            ),
            hangup_cause=19,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (70, 0)


def test_cacofonisk__blonde_transfer_abacbc() -> None:
    result = replay("cacofonisk__blonde_transfer_abacbc.ami")
    assert result.records == [
        CallRecord(
            call_id="f29ea68048f6-1530023922.2627",
            direction="inbound",
            caller="150010001",
            dialed="202",
            answered=True,
            agent="SIP/150010002",
            ring_time=0.0,
            talk_time=10.0,
            transfers=(
                Transfer(
                    kind="attended",
                    target="ID730152@osvpi_route_phoneaccount",
                    by="SIP/150010001",
                    outcome="NOANSWER",
                ),
            ),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (98, 0)


def test_cacofonisk__call_forwarding_external() -> None:
    result = replay("cacofonisk__call_forwarding_external.ami")
    assert result.records == [
        CallRecord(
            call_id="b6093874285e-1530191379.305",
            direction="inbound",
            caller="+31260010001",
            dialed="+31150010001",
            answered=True,
            agent="SIP/150010002",
            ring_time=1.0,
            talk_time=0.0,
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (106, 0)


def test_cacofonisk__direct_call_answered_a_hangup() -> None:
    result = replay("cacofonisk__direct_call_answered_a_hangup.ami")
    assert result.records == [
        CallRecord(
            call_id="195176c06ab8-1529936170.42",
            direction="inbound",
            caller="150010001",
            dialed="202",
            answered=True,
            agent="SIP/150010002",
            ring_time=0.0,
            talk_time=0.0,
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (47, 0)


def test_cacofonisk__direct_call_caller_cancel() -> None:
    result = replay("cacofonisk__direct_call_caller_cancel.ami")
    assert result.records == [
        CallRecord(
            call_id="195176c06ab8-1529936141.21",
            direction="inbound",
            caller="150010001",
            dialed="202",
            hangup_cause=0,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (29, 0)


def test_cacofonisk__direct_call_dnd_busy17() -> None:
    result = replay("cacofonisk__direct_call_dnd_busy17.ami")
    assert result.records == [
        CallRecord(
            call_id="195176c06ab8-1529936189.77",
            direction="inbound",
            caller="150010001",
            dialed="202",
            hangup_cause=17,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (27, 0)


def test_cacofonisk__direct_call_rejected_busy17() -> None:
    result = replay("cacofonisk__direct_call_rejected_busy17.ami")
    assert result.records == [
        CallRecord(
            call_id="195176c06ab8-1529936241.98",
            direction="inbound",
            caller="150010001",
            dialed="202",
            hangup_cause=17,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (29, 0)


def test_cacofonisk__originate_click_to_dial_b_busy() -> None:
    result = replay("cacofonisk__originate_click_to_dial_b_busy.ami")
    assert result.records == [
        CallRecord(
            call_id="c4061ca6474c-1531990698.589",
            direction="outbound",
            caller=None,
            dialed="ID400382",
            agent="SIP/150010001",
            hangup_cause=17,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (115, 0)


def test_cacofonisk__originate_click_to_dial_external() -> None:
    result = replay("cacofonisk__originate_click_to_dial_external.ami")
    assert result.records == [
        CallRecord(
            call_id="c4061ca6474c-1531990515.302",
            direction="outbound",
            caller=None,
            dialed="ID400379",
            answered=True,
            agent="SIP/150010001",
            talk_time=0.0,
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (146, 0)


def test_cacofonisk__queue_abandoned_caller_hangup() -> None:
    result = replay("cacofonisk__queue_abandoned_caller_hangup.ami")
    assert result.records == [
        CallRecord(
            call_id="40a7a1f2a669-1585318545.326",
            direction="inbound",
            caller="+31150010001",
            dialed="+31150010004",
            queue="670100-540100",
            queue_wait=11.0,
            abandoned=True,
            hangup_cause=0,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (35, 0)


def test_cacofonisk__queue_answered() -> None:
    result = replay("cacofonisk__queue_answered.ami")
    assert result.records == [
        CallRecord(
            call_id="195176c06ab8-1529939196.518",
            direction="inbound",
            caller="+31150010001",
            dialed="+31150010004",
            answered=True,
            agent="SIP/150010002",
            ring_time=0.0,
            talk_time=0.0,
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (68, 0)


def test_cacofonisk__queue_answered_then_blind_transfer() -> None:
    result = replay("cacofonisk__queue_answered_then_blind_transfer.ami")
    assert result.records == [
        CallRecord(
            call_id="f29ea68048f6-1530023464.2539",
            direction="inbound",
            caller="+31260010001",
            dialed="+31150010001",
            answered=True,
            agent="SIP/150010001",
            ring_time=0.0,
            talk_time=0.0,
            transfers=(
                Transfer(
                    kind="blind",
                    target="202@osvpi_account_transfer",
                    by="SIP/150010001",
                    outcome="ANSWER",
                    answered_by="SIP/150010002",
                    setup_time=6.0,
                ),
            ),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (90, 0)


def test_goami2__confbridge_invite_join_kick() -> None:
    result = replay("goami2__confbridge_invite_join_kick.ami")
    assert result.records == []
    assert result.unfinished == [
        CallRecord(
            call_id="1598968093.901",
            direction="outbound",
            caller=None,
            dialed=None,
            conference="9170*12",
            conference_members=("Local/7711@confbridge-invite",),
            hangup_cause=16,
        ),
    ]
    assert (result.events, len(result.errors)) == (22, 0)


def test_goami2__queuepause_unpause_actions() -> None:
    result = replay("goami2__queuepause_unpause_actions.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (5, 0)


def test_goami2__queuestatus_confbridgelist_actions() -> None:
    result = replay("goami2__queuestatus_confbridgelist_actions.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (21, 0)


def test_goami2__sip_call_answered_newexten() -> None:
    result = replay("goami2__sip_call_answered_newexten.ami")
    assert result.records == [
        CallRecord(
            call_id="1598887681.60",
            direction="inbound",
            caller="9170",
            dialed="9898",
            answered=True,
            agent="SIP/okon.ferry.sip.com",
            ring_time=0.0,
            talk_time=0.0,
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (51, 0)


def test_panoramisk__agent_login_pings_ast11() -> None:
    result = replay("panoramisk__agent_login_pings_ast11.ami")
    assert result.records == []
    assert result.unfinished == [
        CallRecord(call_id="1409169987.2", direction="inbound", caller="202", dialed="*30402"),
    ]
    assert (result.events, len(result.errors)) == (147, 2)


def test_panoramisk__agent_unpause_call_ast11() -> None:
    result = replay("panoramisk__agent_unpause_call_ast11.ami")
    assert result.records == [
        CallRecord(
            call_id="1413823936.3729",
            direction="inbound",
            caller="2001",
            dialed="*12",
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (61, 0)


def test_panoramisk__asyncagi_dead_channel_error() -> None:
    result = replay("panoramisk__asyncagi_dead_channel_error.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__asyncagi_get_var() -> None:
    result = replay("panoramisk__asyncagi_get_var.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (3, 0)


def test_panoramisk__command_core_show_version_ast11() -> None:
    result = replay("panoramisk__command_core_show_version_ast11.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__command_response() -> None:
    result = replay("panoramisk__command_response.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__login_failed() -> None:
    result = replay("panoramisk__login_failed.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__login_md5_challenge() -> None:
    result = replay("panoramisk__login_md5_challenge.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__login_ok() -> None:
    result = replay("panoramisk__login_ok.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (1, 0)


def test_panoramisk__logoff() -> None:
    result = replay("panoramisk__logoff.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__originate_local_full_events_ast11() -> None:
    result = replay("panoramisk__originate_local_full_events_ast11.ami")
    assert result.records == [
        CallRecord(
            call_id="1414510600.0",
            direction="inbound",
            caller=None,
            dialed="259",
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (748, 0)


def test_panoramisk__originate_sync_response() -> None:
    result = replay("panoramisk__originate_sync_response.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__ping_response() -> None:
    result = replay("panoramisk__ping_response.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__pjsipshowendpoint_list() -> None:
    result = replay("panoramisk__pjsipshowendpoint_list.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (6, 0)


def test_panoramisk__queueadd_response() -> None:
    result = replay("panoramisk__queueadd_response.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_panoramisk__queuestatus_list() -> None:
    result = replay("panoramisk__queuestatus_list.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (8, 0)


def test_panoramisk__sipnotify_response() -> None:
    result = replay("panoramisk__sipnotify_response.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (0, 0)


def test_real_asterisk_22_10_1__ami_actions() -> None:
    result = replay("real-asterisk-22.10.1__ami-actions.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396420.16",
            direction="inbound",
            caller="13800138007",
            dialed="12345",
            queue="hotline",
            queue_wait=2.0,
            answered=True,
            agent="PJSIP/8002",
            agent_name="Agent Li",
            ring_time=2.0,
            talk_time=10.0,
            rang=(RingAttempt(agent="PJSIP/8002", outcome="answered", ring_time=2.0),),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (174, 0)


def test_real_asterisk_22_10_1__attended_transfer_to_110() -> None:
    result = replay("real-asterisk-22.10.1__attended-transfer-to-110.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396434.18",
            direction="inbound",
            caller="13800138008",
            dialed="12345",
            queue="hotline",
            queue_wait=2.0,
            answered=True,
            agent="PJSIP/8001",
            agent_name="Agent Zhang",
            ring_time=2.0,
            talk_time=9.0,
            rang=(RingAttempt(agent="PJSIP/8001", outcome="answered", ring_time=2.0),),
            transfers=(
                Transfer(
                    kind="attended",
                    target="110@transfer-110",
                    by="PJSIP/8001",
                    outcome="ANSWER",
                    answered_by="PJSIP/police110",
                ),
            ),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (272, 0)


def test_real_asterisk_22_10_1__blind_transfer_to_110() -> None:
    result = replay("real-asterisk-22.10.1__blind-transfer-to-110.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396350.4",
            direction="inbound",
            caller="13800138003",
            dialed="12345",
            queue="hotline",
            queue_wait=2.0,
            answered=True,
            agent="PJSIP/8001",
            agent_name="Agent Zhang",
            ring_time=2.0,
            talk_time=2.0,
            rang=(RingAttempt(agent="PJSIP/8001", outcome="answered", ring_time=2.0),),
            transfers=(
                Transfer(
                    kind="blind",
                    target="110@transfer-110",
                    by="PJSIP/8001",
                    outcome="ANSWER",
                    answered_by="PJSIP/police110",
                    setup_time=5.67,
                ),
            ),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (199, 0)


def test_real_asterisk_22_10_1__originate_callback() -> None:
    result = replay("real-asterisk-22.10.1__originate-callback.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396392.12",
            direction="outbound",
            caller="8001",
            dialed="13800138005",
            answered=True,
            agent="PJSIP/8001",
            talk_time=5.463,
            hangup_cause=16,
            ticket="T20261123-0005",
            origin_action="rec-2",
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (91, 0)


def test_real_asterisk_22_10_1__post_call_survey() -> None:
    result = replay("real-asterisk-22.10.1__post-call-survey.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396405.14",
            direction="inbound",
            caller="13800138006",
            dialed="12345",
            queue="hotline",
            queue_wait=2.0,
            answered=True,
            agent="PJSIP/8001",
            agent_name="Agent Zhang",
            ring_time=2.0,
            talk_time=5.0,
            rang=(RingAttempt(agent="PJSIP/8001", outcome="answered", ring_time=2.0),),
            hangup_cause=16,
            survey="4",
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (158, 0)


def test_real_asterisk_22_10_1__queue_abandoned() -> None:
    result = replay("real-asterisk-22.10.1__queue-abandoned.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396341.2",
            direction="inbound",
            caller="13800138002",
            dialed="12345",
            queue="hotline",
            queue_wait=6.0,
            abandoned=True,
            rang=(RingAttempt(agent="PJSIP/8001", outcome="cancelled", ring_time=5.713),),
            hangup_cause=0,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (79, 0)


def test_real_asterisk_22_10_1__queue_answered_caller_hangup() -> None:
    result = replay("real-asterisk-22.10.1__queue-answered-caller-hangup.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396328.0",
            direction="inbound",
            caller="13800138001",
            dialed="12345",
            queue="hotline",
            queue_wait=2.0,
            answered=True,
            agent="PJSIP/8001",
            agent_name="Agent Zhang",
            ring_time=2.0,
            talk_time=8.0,
            rang=(RingAttempt(agent="PJSIP/8001", outcome="answered", ring_time=2.0),),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (145, 0)


def test_real_asterisk_22_10_1__queue_ringnoanswer_next_agent() -> None:
    result = replay("real-asterisk-22.10.1__queue-ringnoanswer-next-agent.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396457.23",
            direction="inbound",
            caller="13800138009",
            dialed="12345",
            queue="hotline",
            queue_wait=19.0,
            answered=True,
            agent="PJSIP/8002",
            agent_name="Agent Li",
            ring_time=2.0,
            talk_time=6.0,
            rang=(
                RingAttempt(agent="PJSIP/8001", outcome="no_answer", ring_time=15.0),
                RingAttempt(agent="PJSIP/8002", outcome="answered", ring_time=2.0),
            ),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (166, 0)


def test_real_asterisk_22_10_1__reload_and_shutdown() -> None:
    result = replay("real-asterisk-22.10.1__reload-and-shutdown.ami")
    assert result.records == []
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (4, 0)


def test_real_asterisk_22_10_1__three_way_confbridge() -> None:
    result = replay("real-asterisk-22.10.1__three-way-confbridge.ami")
    assert result.records == [
        CallRecord(
            call_id="1795396369.7",
            direction="inbound",
            caller="13800138004",
            dialed="12345",
            queue="hotline",
            queue_wait=2.0,
            answered=True,
            agent="PJSIP/8001",
            agent_name="Agent Zhang",
            ring_time=2.0,
            talk_time=13.0,
            rang=(RingAttempt(agent="PJSIP/8001", outcome="answered", ring_time=2.0),),
            conference="9004",
            conference_members=("PJSIP/8001", "PJSIP/citizen", "PJSIP/police110"),
            hangup_cause=16,
        ),
    ]
    assert result.unfinished == []
    assert (result.events, len(result.errors)) == (200, 0)
