"""RFC 6638 implicit scheduling on both doors, with three local users (alice, bob, carol), an
external address (dave@example.org) and a real SMTP server: local attendees receive
invitations in their calendars in the same transaction, external ones by iMIP mail once;
answers update the organizer's copy."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import icalendar
import pytest
import requests

from tests.api_helpers import Api, cli_json, make_token
from tests.conftest import PASSWORD, Server, free_port, store_env
from tests.test_mail import Mailbox, Smtp, parse, start_server

EVENTS = "/api/access/calendar/events"
DAVE = "dave@example.org"


def event_text(uid: str, start: str = "20261210T090000Z", end: str = "20261210T100000Z",
               attendees: tuple[str, ...] = ("bob@example.com", DAVE),
               organizer: str = "alice@example.com", extra: str = "",
               attendee_params: str = "") -> str:
    lines = "".join(f"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE{attendee_params}:mailto:{a}\r\n"
                    for a in attendees)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//client//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
            f"SUMMARY:Planning {uid}\r\nORGANIZER:mailto:{organizer}\r\n{lines}{extra}"
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


@dataclass
class Env:
    server: Server
    smtp: Smtp

    def url(self, user: str, calendar: str = "work") -> str:
        return f"{self.server.url}/{user}/{calendar}/"

    def put(self, user: str, uid: str, text: str, calendar: str = "work",
            headers: dict[str, str] | None = None) -> None:
        answer = requests.put(f"{self.url(user, calendar)}{uid}.ics", data=text.encode(),
                              auth=(user, PASSWORD), timeout=30, headers=headers or {})
        assert answer.status_code in (201, 204), answer.text

    def copies(self, user: str, uid: str) -> list[icalendar.Calendar]:
        """``uid`` in every calendar of ``user``, as calendar data."""
        body = ('<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
                'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>'
                '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
                f'<C:prop-filter name="UID"><C:text-match collation="i;octet">{uid}'
                '</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter>'
                '</C:calendar-query>')
        found = []
        listing = requests.request("PROPFIND", f"{self.server.url}/{user}/",
                                   auth=(user, PASSWORD), headers={"Depth": "1"}, timeout=30)
        import xml.etree.ElementTree as ET

        for href in ET.fromstring(listing.content).iter("{DAV:}href"):
            path = href.text or ""
            if path.rstrip("/") == f"/{user}":
                continue
            answer = requests.request("REPORT", self.server.url + path, data=body,
                                      auth=(user, PASSWORD), headers={"Depth": "1"},
                                      timeout=30)
            if answer.status_code != 207:
                continue
            for data in ET.fromstring(answer.content).iter(
                    "{urn:ietf:params:xml:ns:caldav}calendar-data"):
                found.append(icalendar.Calendar.from_ical(data.text or ""))
        return found

    def mails(self, count: int) -> list[tuple[str, icalendar.Calendar]]:
        delivered = self.smtp.mailbox.wait_for(count, timeout=20)
        time.sleep(0.8)  # two more sending rounds: nothing else comes
        taken = self.smtp.mailbox.take()
        assert len(taken) == len(delivered) == count, [r for r, _ in taken]
        return [(rcpts[0], parse(raw)[1]) for rcpts, raw in taken]


def partstat(calendar: icalendar.Calendar, who: str) -> str:
    event = next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e)
    values = event.get("ATTENDEE")
    for value in values if isinstance(values, list) else [values]:
        if str(value).lower() == f"mailto:{who}":
            return str(value.params.get("PARTSTAT"))
    raise AssertionError(f"{who} is no attendee")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
        backend: str) -> Iterator[Env]:
    smtp = Smtp(free_port(), Mailbox())
    smtp.start()
    server = start_server(tmp_path_factory.mktemp("scheduling"), smtp.port,
                          store_env(request, backend))
    for user in ("alice", "bob", "carol"):
        server.add_user(user)
        assert requests.request("MKCALENDAR", f"{server.url}/{user}/work/",
                                auth=(user, PASSWORD), timeout=30).status_code == 201
    yield Env(server, smtp)
    server.stop()
    smtp.stop()


@pytest.fixture
def uid(env: Env) -> str:
    env.smtp.mailbox.take()
    return uuid.uuid4().hex


def test_an_organizers_caldav_put_invites_the_local_attendee_in_place_and_mails_the_other(
        env: Env, uid: str) -> None:
    env.put("alice", uid, event_text(uid))
    [(recipient, mail)] = env.mails(1)
    assert (recipient, str(mail["METHOD"])) == (DAVE, "REQUEST")
    [copy] = env.copies("bob", uid)
    assert "METHOD" not in copy and partstat(copy, "bob@example.com") == "NEEDS-ACTION"
    assert [str(e["SUMMARY"]) for e in copy.walk("VEVENT")] == [f"Planning {uid}"]
    assert copy.walk("VALARM") == []  # the organizer's reminders stay the organizer's
    assert env.copies("carol", uid) == []


def test_the_local_attendees_answer_over_caldav_updates_the_organizers_copy(
        env: Env, uid: str) -> None:
    env.put("alice", uid, event_text(uid))
    env.mails(1)
    [copy] = env.copies("bob", uid)
    text = copy.to_ical().decode().replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com",
        "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com")
    assert "PARTSTAT=ACCEPTED" in text
    href = f"{env.url('bob', 'work')}{uid}.ics"
    answer = requests.put(href, data=text.encode(), auth=("bob", PASSWORD), timeout=30)
    assert answer.status_code == 204, answer.text
    [organizers] = env.copies("alice", uid)
    event = organizers.walk("VEVENT")[0]
    bob = next(a for a in event["ATTENDEE"] if str(a).lower() == "mailto:bob@example.com")
    assert (bob.params["PARTSTAT"], bob.params["SCHEDULE-STATUS"]) == ("ACCEPTED", "2.0")
    assert len(organizers.walk("VALARM")) == 1  # the organizer's own alarm is kept
    assert env.smtp.mailbox.wait_for(1, timeout=1.5) == []  # the organizer is local: no mail


def test_moving_the_event_updates_both_and_resets_the_answer(env: Env, uid: str) -> None:
    env.put("alice", uid, event_text(uid))
    env.mails(1)
    [copy] = env.copies("bob", uid)
    accepted = copy.to_ical().decode().replace("PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob",
                                               "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob")
    env.put("bob", uid, accepted)
    env.put("alice", uid, event_text(uid, "20261211T090000Z", "20261211T100000Z",
                                     extra="SEQUENCE:1\r\n"))
    [(recipient, mail)] = env.mails(1)
    assert (recipient, str(mail["METHOD"])) == (DAVE, "REQUEST")
    [moved] = env.copies("bob", uid)
    assert moved.walk("VEVENT")[0]["DTSTART"].to_ical() == b"20261211T090000Z"
    assert partstat(moved, "bob@example.com") == "NEEDS-ACTION"


def test_removing_an_attendee_and_deleting_send_cancels(env: Env, uid: str) -> None:
    env.put("alice", uid, event_text(uid, attendees=("bob@example.com", "carol@example.com",
                                                     DAVE)))
    env.mails(1)
    assert len(env.copies("carol", uid)) == 1
    env.put("alice", uid, event_text(uid, attendees=("bob@example.com", DAVE)))
    assert env.smtp.mailbox.wait_for(1, timeout=1.5) == []
    [carols] = env.copies("carol", uid)
    assert str(carols.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    assert requests.delete(f"{env.url('alice')}{uid}.ics", auth=("alice", PASSWORD),
                           timeout=30).status_code == 200
    [(recipient, mail)] = env.mails(1)
    assert (recipient, str(mail["METHOD"])) == (DAVE, "CANCEL")
    [bobs] = env.copies("bob", uid)
    assert str(bobs.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"


def test_cancelling_one_instance_excludes_it_from_the_attendees_copy(env: Env,
                                                                     uid: str) -> None:
    series = event_text(uid, extra="RRULE:FREQ=DAILY;COUNT=5\r\n")
    env.put("alice", uid, series)
    env.mails(1)
    env.put("alice", uid, series.replace("RRULE:FREQ=DAILY;COUNT=5\r\n",
                                         "RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE:20261212T090000Z"
                                         "\r\n"))
    [(recipient, mail)] = env.mails(1)
    assert (recipient, str(mail["METHOD"])) == (DAVE, "CANCEL")  # that instance only
    [cancelled] = mail.walk("VEVENT")
    assert cancelled["RECURRENCE-ID"].to_ical() == b"20261212T090000Z"
    assert cancelled["DTSTART"].to_ical() == b"20261212T090000Z" and "RRULE" not in cancelled
    [bobs] = env.copies("bob", uid)
    assert b"20261212T090000Z" in bobs.walk("VEVENT")[0]["EXDATE"].to_ical()


def test_schedule_agent_client_and_foreign_organizers_send_nothing(env: Env, uid: str) -> None:
    env.put("alice", uid, event_text(uid, attendee_params=";SCHEDULE-AGENT=CLIENT"))
    other = uuid.uuid4().hex
    env.put("alice", other, event_text(other, organizer="erin@example.net",
                                       attendees=("alice@example.com", "bob@example.com")))
    assert env.smtp.mailbox.wait_for(1, timeout=2) == []
    assert env.copies("bob", uid) == [] and env.copies("bob", other) == []


def test_an_attendee_deleting_their_copy_declines_unless_schedule_reply_is_false(
        env: Env, uid: str) -> None:
    kept = uuid.uuid4().hex
    env.put("alice", uid, event_text(uid, attendees=("bob@example.com",)))
    env.put("alice", kept, event_text(kept, attendees=("bob@example.com",)))
    for name, headers in ((uid, {}), (kept, {"Schedule-Reply": "F"})):
        href = f"{env.url('bob', 'work')}{name}.ics"
        assert requests.delete(href, auth=("bob", PASSWORD), headers=headers,
                               timeout=30).status_code == 200
    assert partstat(env.copies("alice", uid)[0], "bob@example.com") == "DECLINED"
    assert partstat(env.copies("alice", kept)[0], "bob@example.com") == "NEEDS-ACTION"


def test_the_rest_door_schedules_through_the_same_engine(env: Env) -> None:
    env.smtp.mailbox.take()
    ws = cli_json(env.server, "workspace", "create", f"S {uuid.uuid4().hex[:6]}", "--owner",
                  "alice")["uuid"]
    cli_json(env.server, "workspace", "add-member", ws, "bob")
    alice = Api(env.server, ws, make_token(env.server, "alice", ws, "calendars:admin"))
    bob = Api(env.server, ws, make_token(env.server, "bob", ws, "calendars:write"))
    calendar = alice.post("/calendars", json={"name": "Team"}).json()
    created = alice.post(EVENTS, json={
        "calendarId": calendar["id"], "summary": "Review", "from": "2026-12-14T09:00:00Z",
        "to": "2026-12-14T10:00:00Z", "attendees": ["bob@example.com", DAVE]})
    assert created.status_code == 201, created.text
    event = created.json()["event"]
    [(recipient, mail)] = env.mails(1)
    assert (recipient, str(mail["METHOD"])) == (DAVE, "REQUEST")
    [copy] = env.copies("bob", event["iCalUID"])
    assert partstat(copy, "bob@example.com") == "NEEDS-ACTION"

    answered = bob.post(f"{EVENTS}/{event['id']}/respond", json={"status": "accepted"})
    assert answered.status_code == 200, answered.text
    [organizers] = env.copies("alice", event["iCalUID"])
    assert partstat(organizers, "bob@example.com") == "ACCEPTED"
    assert env.smtp.mailbox.wait_for(1, timeout=1.5) == []


def freebusy_request(asker: str, attendees: tuple[str, ...], start: str, end: str) -> bytes:
    lines = "".join(f"ATTENDEE:mailto:{a}\r\n" for a in attendees)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//client//EN\r\nMETHOD:REQUEST\r\n"
            f"BEGIN:VFREEBUSY\r\nUID:fb-{uuid.uuid4().hex}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:{start}\r\nDTEND:{end}\r\nORGANIZER:mailto:{asker}@example.com\r\n"
            f"{lines}END:VFREEBUSY\r\nEND:VCALENDAR\r\n").encode()


def test_the_principal_offers_scheduling_to_clients(env: Env) -> None:
    import caldav

    options = requests.options(env.url("alice"), auth=("alice", PASSWORD), timeout=30)
    assert "calendar-auto-schedule" in [c.strip() for c in options.headers["DAV"].split(",")]
    client = caldav.DAVClient(url=env.server.url + "/", username="alice", password=PASSWORD)
    principal = client.principal()
    assert "mailto:alice@example.com" in principal.calendar_user_address_set()
    assert str(principal.schedule_outbox().url) == f"{env.server.url}/alice/outbox/"
    body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-default-calendar-URL/>'
            '</D:prop></D:propfind>')
    answer = requests.request("PROPFIND", f"{env.server.url}/alice/", data=body,
                              auth=("alice", PASSWORD), headers={"Depth": "0"}, timeout=30)
    assert "<href>/alice/work/</href>" in answer.text.replace("D:", "")


def test_free_busy_through_the_outbox_answers_for_local_users_recurring_included(
        env: Env, uid: str) -> None:
    env.put("carol", uid, event_text(uid, "20270104T090000Z", "20270104T100000Z", attendees=(),
                                     organizer="carol@example.com",
                                     extra="RRULE:FREQ=DAILY;COUNT=3\r\n"))
    ws = cli_json(env.server, "workspace", "create", f"F {uuid.uuid4().hex[:6]}", "--owner",
                  "alice")["uuid"]
    cli_json(env.server, "workspace", "add-member", ws, "carol")
    stranger = f"s{uuid.uuid4().hex[:8]}"
    env.server.add_user(stranger)  # a user of this server who shares no workspace with alice
    answer = requests.post(f"{env.server.url}/alice/outbox/", auth=("alice", PASSWORD),
                           data=freebusy_request("alice", ("carol@example.com",
                                                           f"{stranger}@example.com", DAVE),
                                                 "20270103T000000Z", "20270110T000000Z"),
                           headers={"Content-Type": "text/calendar"}, timeout=30)
    assert answer.status_code == 200, answer.text
    import xml.etree.ElementTree as ET

    c = "{urn:ietf:params:xml:ns:caldav}"
    results = {}
    for response in ET.fromstring(answer.content).iter(f"{c}response"):
        who = response.findtext(f"{c}recipient/{{DAV:}}href")
        data = response.findtext(f"{c}calendar-data")
        periods = []
        if data:
            busy = icalendar.Calendar.from_ical(data).walk("VFREEBUSY")[0]
            values = busy.get("FREEBUSY")
            for value in values if isinstance(values, list) else [values]:
                begin, until = value.dt  # one period per FREEBUSY line
                periods.append((begin.strftime("%d %H"), until.strftime("%d %H")))
        results[who] = (response.findtext(f"{c}request-status"), periods)
    assert results == {
        "mailto:carol@example.com": ("2.0;Success", [("04 09", "04 10"), ("05 09", "05 10"),
                                                     ("06 09", "06 10")]),
        f"mailto:{stranger}@example.com": ("3.7;Invalid calendar user", []),
        f"mailto:{DAVE}": ("3.7;Invalid calendar user", []),
    }
    other = requests.post(f"{env.server.url}/bob/outbox/", auth=("alice", PASSWORD),
                          data=freebusy_request("alice", ("carol@example.com",),
                                                "20270103T000000Z", "20270110T000000Z"),
                          timeout=30)
    assert other.status_code == 405  # only one's own outbox takes requests


def reply_mail(sender: str, attendee: str, uid: str, partstat: str) -> str:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = sender
    message["To"] = "alice@example.com"
    message["Subject"] = "Accepted: Planning"
    message.set_content(f"{attendee} has accepted.")
    message.add_attachment(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mail client//EN\r\nMETHOD:REPLY\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260102T000000Z\r\n"
        "DTSTART:20261210T090000Z\r\nORGANIZER:mailto:alice@example.com\r\n"
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{attendee}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        subtype="calendar", params={"method": "REPLY"})
    return message.as_string()


def test_an_external_reply_by_mail_is_ingested_into_the_organizers_copy(env: Env,
                                                                       uid: str) -> None:
    env.put("alice", uid, event_text(uid))
    env.mails(1)
    refused = [
        (reply_mail("mallory@example.net", DAVE, uid, "DECLINED"),
         "ignored: the reply must name exactly one attendee: its sender"),
        (reply_mail("erin@example.net", "erin@example.net", uid, "ACCEPTED"),
         "ignored: erin@example.net is not an attendee of that event"),
        (reply_mail(DAVE, DAVE, "no-such-uid", "ACCEPTED"),
         "ignored: no event of a user of this server has that UID and organizer"),
    ]
    for raw, said in refused:
        result = env.server.cli("mail", "ingest", stdin=raw)
        assert (result.returncode, result.stdout.strip()) == (0, said), result.stderr
    assert partstat(env.copies("alice", uid)[0], DAVE) == "NEEDS-ACTION"
    accepted = env.server.cli("mail", "ingest", stdin=reply_mail(f"Dave <{DAVE}>", DAVE, uid,
                                                                 "ACCEPTED"))
    assert (accepted.returncode, accepted.stdout.strip()) == (
        0, f"applied: {DAVE} answered 'Planning {uid}'")
    assert partstat(env.copies("alice", uid)[0], DAVE) == "ACCEPTED"


def test_the_rsvp_link_in_a_mailed_invitation_answers_for_that_attendee_only(
        env: Env, uid: str) -> None:
    import re

    env.put("alice", uid, event_text(uid))
    delivered = env.smtp.mailbox.wait_for(1)
    env.smtp.mailbox.take()
    assert [rcpts for rcpts, _ in delivered] == [[DAVE]]
    text = parse(delivered[0][1])[2]
    links = dict(re.findall(r"(Accepted|Tentative|Declined): (\S+)", text))
    assert sorted(links) == ["Accepted", "Declined", "Tentative"]
    accept = links["Accepted"]
    assert accept.startswith(f"{env.server.url}/rsvp/") and accept.endswith("?answer=accepted")
    shown = requests.get(accept, timeout=30)
    assert shown.status_code == 200 and f"Planning {uid}" in shown.text
    assert partstat(env.copies("alice", uid)[0], DAVE) == "NEEDS-ACTION"  # GET answers nothing
    page = accept.split("?")[0]
    forged = page[:-3] + ("AAA" if not page.endswith("AAA") else "BBB")
    assert requests.post(forged, data={"answer": "declined"}, timeout=30).status_code == 404
    done = requests.post(page, data={"answer": "accepted"}, timeout=30)
    assert done.status_code == 200 and "answered" in done.text
    assert partstat(env.copies("alice", uid)[0], DAVE) == "ACCEPTED"
    env.put("alice", uid, event_text(uid, attendees=("bob@example.com",)))  # dave uninvited
    env.mails(1)  # dave's CANCEL
    gone = requests.post(page, data={"answer": "declined"}, timeout=30)
    assert gone.status_code == 404 and "not an attendee" in gone.text


def test_schedule_tags_change_with_the_organizers_data_not_with_answers(env: Env,
                                                                        uid: str) -> None:
    env.put("alice", uid, event_text(uid, attendees=("bob@example.com",)))
    href = f"{env.url('alice')}{uid}.ics"
    first = requests.get(href, auth=("alice", PASSWORD), timeout=30)
    tag = first.headers["Schedule-Tag"]
    [copy] = env.copies("bob", uid)
    env.put("bob", uid, copy.to_ical().decode().replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob", "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob"))
    answered = requests.get(href, auth=("alice", PASSWORD), timeout=30)
    assert "PARTSTAT=ACCEPTED" in answered.text
    assert answered.headers["ETag"] != first.headers["ETag"]
    assert answered.headers["Schedule-Tag"] == tag  # an answer is not the organizer's change

    moved = event_text(uid, "20261212T090000Z", "20261212T100000Z",
                       attendees=("bob@example.com",), extra="SEQUENCE:1\r\n")
    stale = requests.put(href, data=moved.encode(), auth=("alice", PASSWORD), timeout=30,
                         headers={"If-Schedule-Tag-Match": '"st-0"'})
    assert stale.status_code == 412 and "schedule-tag-mismatch" in stale.text
    kept = requests.put(href, data=moved.encode(), auth=("alice", PASSWORD), timeout=30,
                        headers={"If-Schedule-Tag-Match": tag})
    assert kept.status_code == 204, kept.text
    assert kept.headers["Schedule-Tag"] not in (tag, None)
    bobs = requests.get(f"{env.url('bob')}{uid}.ics", auth=("bob", PASSWORD), timeout=30)
    assert "20261212T090000Z" in bobs.text and bobs.headers["Schedule-Tag"].startswith('"st-')
    plain = uuid.uuid4().hex
    env.put("alice", plain, event_text(plain, attendees=()).replace(
        "ORGANIZER:mailto:alice@example.com\r\n", ""))
    assert "Schedule-Tag" not in requests.get(f"{env.url('alice')}{plain}.ics",
                                              auth=("alice", PASSWORD), timeout=30).headers


def test_the_invitation_is_also_in_the_attendees_schedule_inbox(env: Env, uid: str) -> None:
    import caldav

    env.put("alice", uid, event_text(uid, attendees=("carol@example.com",)))
    client = caldav.DAVClient(url=env.server.url + "/", username="carol", password=PASSWORD)
    inbox = client.principal().schedule_inbox()
    assert str(inbox.url) == f"{env.server.url}/carol/inbox/"
    messages = {str(i.icalendar_instance.walk("VEVENT")[0]["UID"]):
                str(i.icalendar_instance["METHOD"]) for i in inbox.get_items()}
    assert messages[uid] == "REQUEST"
    calendars = [c.url.path for c in client.principal().calendars()]
    assert "/carol/inbox/" not in calendars and "/carol/work/" in calendars


SCHEDULING_FEATURES = (
    "scheduling", "scheduling.auto-schedule", "scheduling.calendar-user-address-set",
    "scheduling.calendar-user-address-set.populated", "scheduling.freebusy-query",
    "scheduling.mailbox", "scheduling.mailbox.inbox-delivery", "scheduling.schedule-tag",
    "scheduling.schedule-tag.stable-partstat")


def test_caldav_server_testers_scheduling_probes_find_full_support(
        env: Env, tmp_path: Path) -> None:
    import json
    import re
    import subprocess
    import sys

    config = tmp_path / "caldav.json"
    config.write_text(json.dumps({user: {
        "caldav_url": env.server.url + "/", "caldav_username": user,
        "caldav_password": PASSWORD} for user in ("alice", "bob")}))
    checks = ["CheckScheduling", "CheckSchedulingDetails", "CheckFreeBusyQueryRFC6638",
              "CheckScheduleTag", "CheckScheduleTagStablePartstat",
              "CheckSchedulingInboxDelivery"]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "caldav-server-tester"), "--config-section",
         "alice", "--config-section", "bob", "--verbose",
         *[arg for check in checks for arg in ("--run-checks", check)]],
        env={**os.environ, "CALDAV_CONFIG_FILE": str(config)}, capture_output=True, text=True,
        timeout=300, check=False)
    found = dict(re.findall(r"^## (scheduling[\w.-]*)\nFeature support level found: (\w+)",
                            result.stdout, re.MULTILINE))
    assert {name: found.get(name) for name in SCHEDULING_FEATURES} == \
        dict.fromkeys(SCHEDULING_FEATURES, "full"), result.stdout[-3000:] + result.stderr[-3000:]
