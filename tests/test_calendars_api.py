"""Workspace Calendars + Schedules API (seed 000) through the real server."""

from __future__ import annotations

import datetime as dt
import uuid

import icalendar
import pytest
import requests
from caldav.davclient import DAVClient
from caldav.elements import dav as caldav_dav
from caldav.elements import ical as caldav_ical

from tests.api_helpers import Api, WorkspaceClients, assert_problem
from tests.conftest import PASSWORD, Server

Env = WorkspaceClients


@pytest.fixture(scope="module")
def env(api_server: Server) -> Env:
    return WorkspaceClients.create(api_server, "Acme")


def new_calendar(api: Api, **fields: object) -> dict:
    response = api.post("/calendars", json={"name": f"cal {uuid.uuid4().hex[:6]}", **fields})
    assert response.status_code == 201, response.text
    return response.json()


# -- calendars ------------------------------------------------------------------------------

def test_create_calendar_is_open_and_has_its_caldav_url(env: Env) -> None:
    created = env.writer.post("/calendars", json={
        "name": "Dr. Smith", "description": "Office hours", "color": "#3B82F6",
        "timezone": "America/Chicago"})
    assert created.status_code == 201
    body = created.json()
    assert body["availabilityMode"] == "open" and body["timezone"] == "America/Chicago"
    assert body["caldavUrl"].endswith(f"/alice/{body['uuid']}/")
    assert created.headers["ETag"] == body["etag"]


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"name": "ok", "color": "blue"}, "color"),
    ({"name": "ok", "timezone": "Mars/Olympus"}, "timezone"),
    ({"name": "ok", "description": "d" * 2001}, "description"),
    ({"name": "ok", "unknownField": 1}, "unknownField"),
])
def test_create_calendar_validation_names_the_field(env: Env, payload: dict, field: str) -> None:
    assert_problem(env.writer.post("/calendars", json=payload), 400, "VALIDATION_ERROR", field)


@pytest.mark.parametrize("text", ["nul\x00inside", "bell\x07", "\ufffe", "lone \ud800"])
def test_text_that_xml_cannot_carry_is_refused_and_changes_nothing(env: Env, text: str) -> None:
    before = env.admin.get("/calendars").json()["items"]
    assert_problem(env.writer.post("/calendars", json={"name": text}), 400, "VALIDATION_ERROR",
                   "name")
    calendar = new_calendar(env.writer)
    event = {"calendarId": calendar["id"], "summary": "ok", "from": "2026-12-10T09:00:00Z",
             "to": "2026-12-10T10:00:00Z"}
    for field in ("summary", "description", "location"):
        assert_problem(env.writer.post("/api/access/calendar/events",
                                       json={**event, field: text}), 400, "VALIDATION_ERROR",
                       field)
    assert_problem(env.writer.put(f"/calendars/{calendar['id']}", json={"description": text}),
                   400, "VALIDATION_ERROR", "description")
    after = env.admin.get("/calendars").json()["items"]
    assert [c["id"] for c in after] == [c["id"] for c in before] + [calendar["id"]]
    events = env.writer.get("/api/access/calendar/events", params={
        "calendarId": calendar["id"], "from": "2026-12-01", "to": "2027-01-01"}).json()
    assert events["events"] == []


def test_create_calendar_needs_the_write_scope(env: Env) -> None:
    assert_problem(env.reader.post("/calendars", json={"name": "nope"}), 403, "ACCESS_DENIED")


def test_another_workspace_sees_nothing(env: Env) -> None:
    calendar = new_calendar(env.writer)
    for response in (env.stranger.get(f"/calendars/{calendar['id']}"),
                     env.stranger.get("/calendars"),
                     env.stranger.put(f"/calendars/{calendar['id']}", json={"name": "x"}),
                     env.stranger.delete(f"/calendars/{calendar['id']}")):
        assert response.status_code == 404
        assert calendar["name"] not in response.text


def test_calendar_of_another_workspace_is_calendar_not_found(env: Env) -> None:
    other_ws = env.stranger.get("/api/access/token").json()["workspaceUuid"]
    theirs = Api(env.server, other_ws, env.stranger.token)
    foreign = new_calendar(theirs)
    assert_problem(env.admin.get(f"/calendars/{foreign['id']}"), 404, "CALENDAR_NOT_FOUND")


def test_list_pages_and_bounds(env: Env) -> None:
    for _ in range(3):
        new_calendar(env.writer)
    first = env.reader.get("/calendars", params={"page": 1, "pageSize": 2}).json()
    assert first["pageSize"] == 2 and len(first["items"]) == 2 and first["hasNext"]
    assert first["totalPages"] == -(-first["total"] // 2)
    last = env.reader.get("/calendars", params={"page": first["totalPages"],
                                                "pageSize": 2}).json()
    assert not last["hasNext"] and last["hasPrevious"]
    beyond = env.reader.get("/calendars", params={"page": 999, "pageSize": 2}).json()
    assert beyond["items"] == []
    for params, field in (({"pageSize": 0}, "pageSize"), ({"pageSize": 201}, "pageSize"),
                          ({"page": 0}, "page")):
        assert_problem(env.reader.get("/calendars", params=params), 400, "VALIDATION_ERROR",
                       field)
    assert_problem(env.admin.with_token("cb_bad_token").get("/calendars"), 401, "AUTH_FAILED")


def test_update_is_partial_and_checks_if_match(env: Env) -> None:
    calendar = new_calendar(env.writer, description="keep me", color="#112233")
    path = f"/calendars/{calendar['id']}"
    assert_problem(env.writer.put(path, json={"name": "x"}, headers={"If-Match": '"old"'}),
                   412, "PRECONDITION_FAILED")
    updated = env.writer.put(path, json={"name": "Renamed"},
                             headers={"If-Match": calendar["etag"]})
    assert updated.status_code == 200
    assert updated.json()["description"] == "keep me" and updated.json()["color"] == "#112233"
    assert updated.headers["ETag"] != calendar["etag"]
    cleared = env.writer.put(path, json={"description": None}).json()
    assert cleared.get("description") is None and cleared["name"] == "Renamed"
    assert_problem(env.writer.put(path, json={"color": "#12"}), 400, "VALIDATION_ERROR", "color")
    assert_problem(env.reader.put(path, json={"name": "y"}), 403, "ACCESS_DENIED")


def test_delete_needs_admin_and_returns_a_dict(env: Env) -> None:
    calendar = new_calendar(env.writer)
    path = f"/calendars/{calendar['id']}"
    assert_problem(env.writer.delete(path), 403, "ACCESS_DENIED")
    deleted = env.admin.delete(path)
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "id": calendar["id"],
                              "message": "Calendar deleted"}
    assert_problem(env.admin.get(path), 404, "CALENDAR_NOT_FOUND")


# -- both doors ---------------------------------------------------------------------------

def dav(env: Env) -> DAVClient:
    return DAVClient(url=env.server.url, username="alice", password=PASSWORD)


def test_api_calendar_appears_in_caldav_with_name_and_color(env: Env) -> None:
    calendar = new_calendar(env.writer, name="Team Zoë", color="#3B82F6")
    found = dav(env).calendar(url=calendar["caldavUrl"])
    assert found.get_display_name() == "Team Zoë"
    color = found.get_property(caldav_ical.CalendarColor())
    assert color.upper().startswith("#3B82F6")


def test_mkcalendar_renamed_by_proppatch_is_listed_by_the_api(env: Env) -> None:
    principal = dav(env).principal()
    made = principal.make_calendar(name="From Thunderbird", cal_id=uuid.uuid4().hex)
    made.set_properties([caldav_dav.DisplayName("Renamed in Apple Calendar")])
    listed = env.reader.get("/calendars", params={"pageSize": 200}).json()["items"]
    names = {c["caldavUrl"]: c["name"] for c in listed}
    assert names[str(made.url)] == "Renamed in Apple Calendar"


def test_api_delete_makes_the_collection_404_over_caldav(env: Env) -> None:
    calendar = new_calendar(env.writer)
    assert requests.request("PROPFIND", calendar["caldavUrl"], auth=("alice", PASSWORD),
                            headers={"Depth": "0"}).status_code == 207
    assert env.admin.delete(f"/calendars/{calendar['id']}").status_code == 200
    assert requests.request("PROPFIND", calendar["caldavUrl"], auth=("alice", PASSWORD),
                            headers={"Depth": "0"}).status_code == 404


# -- schedules and slots ----------------------------------------------------------------------

OFFICE_HOURS = {"name": "Office hours", "daysOfWeek": ["Monday", "Tuesday", "Wednesday",
                                                      "Thursday", "Friday"],
                "startTime": "09:00", "endTime": "17:00", "timezone": "America/New_York",
                "startDate": "2027-01-01"}


def test_schedule_round_trips_as_vavailability(env: Env) -> None:
    calendar = new_calendar(env.writer)
    base = f"/calendars/{calendar['id']}/schedules"
    created = env.writer.post(base, json={**OFFICE_HOURS, "exceptions": ["2027-07-05"]})
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["rrule"] == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    assert env.reader.get(f"{base}/{schedule['id']}").json() == schedule
    assert [s["id"] for s in env.reader.get(base).json()] == [schedule["id"]]
    with_schedules = env.reader.get(f"/calendars/{calendar['id']}",
                                    params={"includeSchedules": "true"}).json()
    assert with_schedules["availabilityMode"] == "scheduled"
    assert with_schedules["schedules"][0]["name"] == "Office hours"

    body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-availability/>'
            "</D:prop></D:propfind>")
    answer = requests.request("PROPFIND", calendar["caldavUrl"], data=body,
                              auth=("alice", PASSWORD), headers={"Depth": "0"})
    text = answer.text.split("<C:calendar-availability>")[1].split("</C:calendar-availability>")[0]
    cal = icalendar.Calendar.from_ical(text.replace("&#13;", "\r"))
    vavailability = cal.walk("VAVAILABILITY")[0]
    available = vavailability.walk("AVAILABLE")[0]
    assert str(vavailability["SUMMARY"]) == "Office hours"
    assert available.get("DTSTART").dt == dt.datetime(2027, 1, 1, 9, 0,
                                                  tzinfo=available.get("DTSTART").dt.tzinfo)
    assert str(available.get("DTSTART").dt.tzinfo) == "America/New_York"
    assert available.get("RRULE")["BYDAY"] == ["MO", "TU", "WE", "TH", "FR"]

    updated = env.writer.put(f"{base}/{schedule['id']}", json={"endTime": "18:00"}).json()
    assert updated["endTime"] == "18:00" and updated["startTime"] == "09:00"
    assert_problem(env.writer.put(f"{base}/{schedule['id']}", json={"endTime": "08:00"}),
                   400, "VALIDATION_ERROR", "endTime")
    assert_problem(env.writer.delete(f"{base}/{schedule['id']}"), 403, "ACCESS_DENIED")
    assert env.admin.delete(f"{base}/{schedule['id']}").json()["success"] is True
    assert_problem(env.reader.get(f"{base}/{schedule['id']}"), 404, "SCHEDULE_NOT_FOUND")


@pytest.mark.parametrize(("payload", "field"), [
    ({"startTime": "09:00", "endTime": "17:00", "daysOfWeek": ["MO"]}, "name"),
    ({"name": "x", "startTime": "9am", "endTime": "17:00", "daysOfWeek": ["MO"]}, "startTime"),
    ({"name": "x", "startTime": "09:00", "endTime": "17:00"}, "daysOfWeek"),
    ({"name": "x", "startTime": "09:00", "endTime": "17:00", "daysOfWeek": ["Funday"]},
     "daysOfWeek"),
    ({"name": "x", "startTime": "09:00", "endTime": "17:00", "recurrence": "monthly"},
     "dayOfMonth"),
])
def test_schedule_validation_names_the_field(env: Env, payload: dict, field: str) -> None:
    calendar = new_calendar(env.writer)
    assert_problem(env.writer.post(f"/calendars/{calendar['id']}/schedules", json=payload),
                   400, "VALIDATION_ERROR", field)


def slot_starts(env: Env, calendar_id: int, start: str, end: str, **params: object
                ) -> dict[str, list[str]]:
    response = env.reader.get(f"/calendars/{calendar_id}/slots",
                              params={"from": start, "to": end, **params})
    assert response.status_code == 200, response.text
    return {day: [s["start"] for s in slots] for day, slots in response.json()["slots"].items()}


@pytest.mark.parametrize(("start", "end"), [
    ("2027-03-12T00:00:00Z", "2027-03-16T00:00:00Z"),   # US DST starts 2027-03-14
    ("2027-11-05T00:00:00Z", "2027-11-09T00:00:00Z"),   # and ends 2027-11-07
])
def test_slots_stay_at_nine_local_across_dst(env: Env, start: str, end: str) -> None:
    calendar = new_calendar(env.writer, timezone="America/New_York")
    env.writer.post(f"/calendars/{calendar['id']}/schedules", json=OFFICE_HOURS)
    days = slot_starts(env, calendar["id"], start, end, duration=480)
    assert len(days) == 2  # a Friday and a Monday around the change
    for starts in days.values():
        assert len(starts) == 1 and starts[0][11:19] == "09:00:00"
    offsets = {s[-6:] for starts in days.values() for s in starts}
    assert offsets == {"-05:00", "-04:00"}


def test_a_busy_event_removes_exactly_its_overlap(env: Env) -> None:
    calendar = new_calendar(env.writer, timezone="America/New_York")
    env.writer.post(f"/calendars/{calendar['id']}/schedules", json=OFFICE_HOURS)
    window = ("2027-03-17T00:00:00Z", "2027-03-18T00:00:00Z")  # a Wednesday, EDT
    before = slot_starts(env, calendar["id"], *window, duration=60)["2027-03-17"]
    assert len(before) == 8
    event = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
             "UID:busy-1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270317T143000Z\r\n"
             "DTEND:20270317T153000Z\r\nSUMMARY:dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    put = requests.put(calendar["caldavUrl"] + "busy-1.ics", data=event,
                       auth=("alice", PASSWORD), headers={"Content-Type": "text/calendar"})
    assert put.status_code == 201
    after = slot_starts(env, calendar["id"], *window, duration=60)["2027-03-17"]
    # 10:30-11:30 EDT blocks the 10:00 and the 11:00 hour slots, nothing else
    assert set(before) - set(after) == {"2027-03-17T10:00:00-04:00",
                                        "2027-03-17T11:00:00-04:00"}
    assert set(after) < set(before)


def test_open_calendar_offers_every_slot(env: Env) -> None:
    calendar = new_calendar(env.writer, timezone="UTC")
    days = slot_starts(env, calendar["id"], "2027-01-04T00:00:00Z", "2027-01-05T00:00:00Z",
                       duration=60)
    assert len(days["2027-01-04"]) == 24


def test_slots_validate_their_window(env: Env) -> None:
    calendar = new_calendar(env.writer)
    path = f"/calendars/{calendar['id']}/slots"
    assert_problem(env.reader.get(path, params={"from": "2027-01-02T00:00:00Z",
                                                "to": "2027-01-01T00:00:00Z", "duration": 30}),
                   400, "VALIDATION_ERROR")
    assert_problem(env.reader.get(path, params={"from": "2027-01-01T00:00:00Z",
                                                "to": "2027-01-02T00:00:00Z"}),
                   400, "VALIDATION_ERROR", "duration")


SEED_000_OPERATIONS = {
    ("get", "/api/v2/w/{workspace_uuid}/calendars"),
    ("post", "/api/v2/w/{workspace_uuid}/calendars"),
    ("get", "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}"),
    ("put", "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}"),
    ("delete", "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}"),
    ("get", "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}/schedules"),
    ("post", "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}/schedules"),
    ("put", "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}/schedules/{schedule_id}"),
    ("delete", "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}/schedules/{schedule_id}"),
}


def test_openapi_document_declares_every_seed_operation(env: Env) -> None:
    document = requests.get(f"{env.server.url}/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    declared = {(method, path) for path, item in document["paths"].items() for method in item}
    assert SEED_000_OPERATIONS <= declared


def test_docs_page_is_served_from_packaged_assets(env: Env) -> None:
    page = requests.get(f"{env.server.url}/api/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert "https://" not in page.text and "http://" not in page.text.replace(env.server.url, "")
    base = page.url.rsplit("/", 1)[0] + "/"
    for asset in ("swagger/js/swagger-ui-bundle.js", "swagger/css/swagger-ui.css"):
        assert requests.get(base + asset).status_code == 200


def test_every_endpoint_hides_calendars_of_other_workspaces_and_checks_scopes(env: Env) -> None:
    calendar = new_calendar(env.writer)
    base = f"/calendars/{calendar['id']}"
    schedule = env.writer.post(f"{base}/schedules", json=OFFICE_HOURS).json()
    one = f"{base}/schedules/{schedule['id']}"
    slots = (f"{base}/slots", {"from": "2027-01-04T00:00:00Z", "to": "2027-01-05T00:00:00Z",
                               "duration": 60})
    calls = [("GET", base, None, None), ("PUT", base, {"name": "x"}, None),
             ("DELETE", base, None, None), ("GET", f"{base}/schedules", None, None),
             ("POST", f"{base}/schedules", OFFICE_HOURS, None), ("GET", one, None, None),
             ("PUT", one, {"name": "y"}, None), ("DELETE", one, None, None),
             ("GET", slots[0], None, slots[1])]
    for method, path, body, params in calls:
        answer = env.stranger.request(method, path, json=body, params=params)
        assert answer.status_code == 404, (method, path, answer.text)
        assert calendar["name"] not in answer.text
    writes = [c for c in calls if c[0] != "GET"]
    for method, path, body, params in writes:
        assert_problem(env.reader.request(method, path, json=body, params=params), 403,
                       "ACCESS_DENIED")
    for method, path, _body, params in calls:
        if method == "GET":
            assert env.reader.request(method, path, params=params).status_code == 200
