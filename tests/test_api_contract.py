"""Contract slips of both API families (issue 11): each answer is the documented one, never a
500, a 412 nobody asked for, or a field the token may not see."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable

import pytest
import requests
import sqlalchemy as sa

from bridge.store.schema import api_token
from tests.api_helpers import Api, WorkspaceClients, assert_problem, cli_json, make_token
from tests.conftest import Server

EVENTS = "/api/access/calendar/events"
WRITE_OPERATIONS = {"create_events", "edit_title", "edit_description", "edit_location",
                    "edit_times", "edit_attendees", "delete_events", "respond_to_event"}


class Env(WorkspaceClients):
    bob: Api  # a member of alice's workspace, with a calendars:admin token

    def token(self, user: str, scopes: str, *extra: str) -> Api:
        return Api(self.server, self.admin.workspace,
                   make_token(self.server, user, self.admin.workspace, scopes, *extra))


@pytest.fixture(scope="module")
def env(api_server: Server) -> Env:
    clients = Env.create(api_server, "Contract")
    cli_json(api_server, "workspace", "add-member", clients.admin.workspace, "bob")
    clients.bob = clients.token("bob", "calendars:admin")
    return clients


def new_calendar(api: Api, **fields: object) -> dict:
    response = api.post("/calendars", json={"name": f"cal {uuid.uuid4().hex[:6]}", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def new_event(api: Api, calendar: dict, **fields: object) -> dict:
    body = {"calendarId": calendar["id"], "summary": "Contract review",
            "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z",
            "sendNotifications": False, **fields}
    response = api.post(EVENTS, json=body)
    assert response.status_code == 201, response.text
    return response.json()["event"]


def concurrently(*calls: Callable[[], requests.Response]) -> list[requests.Response]:
    """Run the calls at the same moment, each in its own thread."""
    barrier = threading.Barrier(len(calls))
    results: list[requests.Response | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


# -- time zones --------------------------------------------------------------------------------

def test_an_unknown_time_zone_is_a_validation_error_on_list_and_get(env: Env) -> None:
    calendar = new_calendar(env.writer)
    event = new_event(env.writer, calendar)
    window = {"from": "2026-12-10T00:00:00Z", "to": "2026-12-11T00:00:00Z",
              "calendarId": calendar["id"]}
    assert_problem(env.writer.get(EVENTS, params={**window, "timeZone": "Not/AZone"}), 400,
                   "VALIDATION_ERROR", "timeZone")
    assert_problem(env.writer.get(f"{EVENTS}/{event['id']}", params={"timeZone": "Not/AZone"}),
                   400, "VALIDATION_ERROR", "timeZone")
    listed = env.writer.get(EVENTS, params={**window, "timeZone": "Europe/Berlin"})
    assert listed.status_code == 200 and len(listed.json()["events"]) == 1
    one = env.writer.get(f"{EVENTS}/{event['id']}", params={"timeZone": "Europe/Berlin"})
    assert one.status_code == 200, one.text
    # a write answers with the event too: refused before anything is written
    assert_problem(env.writer.patch(f"{EVENTS}/{event['id']}", json={"summary": "changed"},
                                    params={"timeZone": "Not/AZone"}), 400,
                   "VALIDATION_ERROR", "timeZone")
    assert env.writer.get(f"{EVENTS}/{event['id']}").json()["event"]["etag"] == event["etag"]


# -- idempotency keys --------------------------------------------------------------------------

def events_titled(api: Api, calendar: dict, summary: str) -> list[dict]:
    listed = api.get(EVENTS, params={"from": "2026-12-10T00:00:00Z",
                                     "to": "2026-12-11T00:00:00Z",
                                     "calendarId": calendar["id"], "q": summary})
    assert listed.status_code == 200, listed.text
    return listed.json()["events"]


def test_an_idempotency_key_reused_on_another_calendar_is_422_even_at_the_same_moment(
        env: Env) -> None:
    first, second = new_calendar(env.writer), new_calendar(env.writer)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert env.writer.post(EVENTS, headers=key, json={
        "calendarId": first["id"], "summary": "k-once", "from": "2026-12-10T09:00:00Z",
        "to": "2026-12-10T10:00:00Z"}).status_code == 201
    assert_problem(env.writer.post(EVENTS, headers=key, json={
        "calendarId": second["id"], "summary": "k-once", "from": "2026-12-10T09:00:00Z",
        "to": "2026-12-10T10:00:00Z"}), 422, "IDEMPOTENCY_KEY_REUSED")
    assert events_titled(env.writer, second, "k-once") == []

    for attempt in range(6):  # the two writes lock different calendars
        key = {"Idempotency-Key": uuid.uuid4().hex}
        summary = f"k-race-{attempt}"
        answers = concurrently(*(
            functools.partial(env.writer.post, EVENTS, headers=key, timeout=60, json={
                "calendarId": calendar["id"], "summary": summary,
                "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z"})
            for calendar in (first, second)))
        assert sorted(a.status_code for a in answers) == [201, 422], [a.text for a in answers]
        assert [a.json()["code"] for a in answers if a.status_code == 422] == \
            ["IDEMPOTENCY_KEY_REUSED"]
        assert len(events_titled(env.writer, first, summary)
                   + events_titled(env.writer, second, summary)) == 1


# -- preconditions -----------------------------------------------------------------------------

OFFICE_HOURS = {"daysOfWeek": ["MO", "TU", "WE", "TH", "FR"], "startTime": "09:00",
                "endTime": "17:00", "startDate": "2026-01-01"}


def test_only_if_match_gives_412_to_calendar_and_schedule_writes(env: Env) -> None:
    calendar, doomed = new_calendar(env.admin, timezone="UTC"), new_calendar(env.admin)
    base = f"/calendars/{calendar['id']}"
    stop = threading.Event()

    def keep_writing_events() -> None:  # each write moves the calendars' revisions
        while not stop.is_set():
            for target in (calendar, doomed):
                env.admin.post(EVENTS, json={
                    "calendarId": target["id"], "summary": "racing",
                    "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z"})

    writer = threading.Thread(target=keep_writing_events)
    writer.start()
    try:
        statuses = []
        for i in range(12):
            statuses.append(env.admin.put(base, json={"name": f"renamed {i}"}).status_code)
            created = env.admin.post(f"{base}/schedules", json={**OFFICE_HOURS,
                                                                 "name": f"hours {i}"})
            statuses.append(created.status_code)
            if created.status_code == 201 and i % 3 == 0:
                one = f"{base}/schedules/{created.json()['id']}"
                statuses.append(env.admin.put(one, json={"description": "edited"}
                                              ).status_code)
                statuses.append(env.admin.delete(one).status_code)
        statuses.append(env.admin.delete(f"/calendars/{doomed['id']}").status_code)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert set(statuses) == {200, 201}, statuses
    schedules = env.admin.get(f"{base}/schedules").json()
    assert sorted(s["name"] for s in schedules) == sorted(f"hours {i}" for i in range(12)
                                                          if i % 3)
    stale = {"If-Match": '"cb-0-0"'}
    assert_problem(env.admin.put(base, json={"name": "x"}, headers=stale), 412,
                   "PRECONDITION_FAILED")
    assert_problem(env.admin.post(f"{base}/schedules", json={**OFFICE_HOURS, "name": "x"},
                                  headers=stale), 412, "PRECONDITION_FAILED")
    assert_problem(env.admin.put(f"{base}/schedules/{schedules[0]['id']}",
                                 json={"name": "x"}, headers=stale), 412, "PRECONDITION_FAILED")
    assert_problem(env.admin.delete(base, headers=stale), 412, "PRECONDITION_FAILED")
    current = env.admin.get(base)
    assert env.admin.put(base, json={"name": "matched"},
                         headers={"If-Match": current.headers["ETag"]}).status_code == 200


def test_concurrent_schedule_writes_lose_nothing(env: Env) -> None:
    calendar = new_calendar(env.admin, timezone="UTC")
    base = f"/calendars/{calendar['id']}/schedules"
    answers = concurrently(*(
        functools.partial(env.admin.post, base, timeout=60, json={**OFFICE_HOURS,
                                                                  "name": f"s{i}"})
        for i in range(6)))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    listed = env.admin.get(base).json()
    assert sorted(s["name"] for s in listed) == [f"s{i}" for i in range(6)]
    assert len({s["id"] for s in listed}) == 6


# -- nulls in PATCH ----------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["summary", "from", "to", "isAllDay"])
def test_patch_refuses_null_where_null_means_nothing(env: Env, field: str) -> None:
    calendar = new_calendar(env.writer)
    event = new_event(env.writer, calendar)
    path = f"{EVENTS}/{event['id']}"
    assert_problem(env.writer.patch(path, json={field: None}), 400, "VALIDATION_ERROR", field)
    after = env.writer.get(path).json()["event"]
    assert after["summary"] == "Contract review" and after["etag"] == event["etag"]


def test_patch_null_clears_description_and_location(env: Env) -> None:
    calendar = new_calendar(env.writer)
    event = new_event(env.writer, calendar, description="Bring the draft", location="Room 1")
    patched = env.writer.patch(f"{EVENTS}/{event['id']}",
                               json={"description": None, "location": None})
    assert patched.status_code == 200, patched.text
    body = patched.json()["event"]
    assert not body.get("description") and not body.get("location")
    assert body["summary"] == "Contract review"


@pytest.mark.parametrize("field", ["name", "type", "timezone", "startTime", "daysOfWeek",
                                   "exceptions"])
def test_schedule_update_refuses_null_where_null_means_nothing(env: Env, field: str) -> None:
    calendar = new_calendar(env.writer, timezone="UTC")
    base = f"/calendars/{calendar['id']}/schedules"
    created = env.writer.post(base, json={**OFFICE_HOURS, "name": "Hours",
                                          "endDate": "2027-12-31"}).json()
    one = f"{base}/{created['id']}"
    assert_problem(env.writer.put(one, json={field: None}), 400, "VALIDATION_ERROR", field)
    assert env.reader.get(one).json() == created
    cleared = env.writer.put(one, json={"endDate": None, "description": None})
    assert cleared.status_code == 200 and cleared.json()["endDate"] is None


# -- read-only tokens answering invitations ----------------------------------------------------

def test_a_token_that_sees_the_event_but_may_not_respond_gets_403(env: Env) -> None:
    calendar = new_calendar(env.admin)
    event = new_event(env.admin, calendar, attendees=["alice@example.com", "bob@example.com"])
    respond = f"{EVENTS}/{event['id']}/respond"
    for api in (env.reader, env.token("alice", "calendars:write", "--access-level",
                                      "view_only"),
                env.token("bob", "calendars:read")):
        assert_problem(api.post(respond, json={"status": "accepted"}), 403, "ACCESS_DENIED")
    assert_problem(env.stranger.post(respond, json={"status": "accepted"}), 404,
                   "EVENT_NOT_FOUND")
    assert env.bob.post(respond, json={"status": "accepted"}).status_code == 200


def test_a_token_limited_to_other_calendars_may_not_answer_invitations(env: Env) -> None:
    calendar = new_calendar(env.admin)
    event = new_event(env.admin, calendar, attendees=["bob@example.com"])
    bobs_own = env.bob.post("/calendars", json={"name": "Bob's only"}).json()
    limited = env.token("bob", "calendars:read,calendars:write", "--calendars",
                        str(bobs_own["id"]))
    respond = f"{EVENTS}/{event['id']}/respond"
    assert_problem(limited.post(respond, json={"status": "accepted"}), 403, "TOKEN_DENIED")
    assert env.bob.post(respond, json={"status": "accepted"}).status_code == 200


# -- calendar responses ------------------------------------------------------------------------

def test_calendar_responses_always_carry_description_and_color(env: Env) -> None:
    created = new_calendar(env.writer)
    path = f"/calendars/{created['id']}"
    listed = env.reader.get("/calendars", params={"pageSize": 200}).json()["items"]
    bodies = [created, env.reader.get(path).json(),
              env.writer.put(path, json={"name": "renamed"}).json(),
              next(c for c in listed if c["id"] == created["id"])]
    for body in bodies:
        for key in ("description", "color", "timezone"):
            assert key in body and body[key] is None, (key, body)
    document = requests.get(f"{env.server.url}/api/openapi.json").json()
    required = document["components"]["schemas"]["CalendarResponse"]["required"]
    assert {"description", "color", "timezone"} <= set(required)


def test_calendar_responses_always_carry_access_and_shared_with(env: Env) -> None:
    created = new_calendar(env.admin)
    own = env.admin.get(f"/calendars/{created['id']}").json()
    assert (created["access"], created["sharedWith"]) == ("owner", [])
    assert (own["access"], own["sharedWith"]) == ("owner", [])
    read = env.reader.get(f"/calendars/{created['id']}").json()
    assert (read["access"], read["sharedWith"]) == ("owner", None)  # may not share: not listed
    document = requests.get(f"{env.server.url}/api/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"access", "sharedWith"} <= set(schemas["CalendarResponse"]["required"])
    assert "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}/shares" in document["paths"]


def test_the_schedules_list_is_a_json_array(env: Env) -> None:
    calendar = new_calendar(env.writer, timezone="UTC")
    base = f"/calendars/{calendar['id']}/schedules"
    assert env.reader.get(base).json() == []
    created = env.writer.post(base, json={**OFFICE_HOURS, "name": "Hours"}).json()
    assert env.reader.get(base).json() == [created]
    document = requests.get(f"{env.server.url}/api/openapi.json").json()
    answer = document["paths"]["/api/v2/w/{workspace_uuid}/calendars/{calendar_id}/schedules"][
        "get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]] \
        if "$ref" in answer else answer
    assert schema["type"] == "array"
    assert schema["items"]["$ref"].endswith("/ScheduleResponse")


# -- what a token says about itself ------------------------------------------------------------

def test_a_read_token_describes_itself_as_view_only_without_write_operations(
        env: Env) -> None:
    created = cli_json(env.server, "token", "create", "--user", "alice", "--workspace",
                       env.admin.workspace, "--scopes", "calendars:read")
    assert created["accessLevel"] == "view_only" and created["operations"] == []
    reader = env.admin.with_token(created["token"])
    described = reader.get("/api/access/token").json()
    assert described["accessLevel"] == "view_only" and described["allowedOperations"] == []
    listed = env.admin.get("/tokens").json()["items"]
    mine = next(t for t in listed if t["id"] == created["id"])
    assert mine["accessLevel"] == "view_only" and mine["allowedOperations"] == []
    info = reader.get(EVENTS).json()["accessInfo"]
    assert info.startswith("View only") and "create" not in info

    by_api = env.admin.post("/tokens", json={"username": "alice",
                                             "scopes": ["calendars:read"]})
    assert by_api.status_code == 201, by_api.text
    assert by_api.json()["accessLevel"] == "view_only"
    assert by_api.json()["allowedOperations"] == []
    writer = env.admin.post("/tokens", json={"username": "alice",
                                             "scopes": ["calendars:write"]}).json()
    assert writer["accessLevel"] == "full_access"
    assert set(writer["allowedOperations"]) == WRITE_OPERATIONS
    viewer = env.admin.post("/tokens", json={"username": "alice", "accessLevel": "view_only",
                                             "scopes": ["calendars:write"]}).json()
    assert viewer["allowedOperations"] == []


@pytest.mark.parametrize("asked", [
    {"accessLevel": "full_access"},
    {"allowedOperations": ["create_events"]},
])
def test_a_read_token_cannot_be_made_with_write_access(env: Env, asked: dict) -> None:
    assert_problem(env.admin.post("/tokens", json={"username": "alice",
                                                   "scopes": ["calendars:read"], **asked}),
                   400, "VALIDATION_ERROR")
    flags = ["--access-level", "full_access"] if "accessLevel" in asked else \
        ["--operations", "create_events"]
    result = env.server.cli("token", "create", "--user", "alice", "--workspace",
                            env.admin.workspace, "--scopes", "calendars:read", *flags)
    assert result.returncode != 0 and "calendars:write" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_stored_read_token_with_full_access_is_described_by_its_scopes(env: Env) -> None:
    """Tokens made before scopes decided the level keep their rows; the description and the
    policy follow the scopes all the same."""
    created = cli_json(env.server, "token", "create", "--user", "alice", "--workspace",
                       env.admin.workspace, "--scopes", "calendars:read")
    engine = sa.create_engine(env.server.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(api_token.update().where(api_token.c.id == created["id"]).values(
                access_level="full_access", operations=["create_events", "respond_to_event"]))
    finally:
        engine.dispose()
    described = env.admin.with_token(created["token"]).get("/api/access/token").json()
    assert described["accessLevel"] == "view_only" and described["allowedOperations"] == []


# -- q searches what the token may see ---------------------------------------------------------

@pytest.mark.parametrize(("visible", "finds"), [
    ("title,times", {"needle-title"}),
    ("description,times", {"needle-description"}),
    ("location,times", {"needle-location"}),
    ("times", set()),
    ("all", {"needle-title", "needle-description", "needle-location"}),
])
def test_q_searches_only_the_fields_the_token_may_see(env: Env, visible: str, finds: set
                                                      ) -> None:
    calendar = new_calendar(env.writer)
    new_event(env.writer, calendar, summary="needle-title plain")
    new_event(env.writer, calendar, summary="plain", description="needle-description")
    new_event(env.writer, calendar, summary="plain", location="needle-location")
    api = env.token("alice", "calendars:read", "--visible-fields", visible)
    found = set()
    for needle in ("needle-title", "needle-description", "needle-location"):
        listed = api.get(EVENTS, params={"from": "2026-12-10T00:00:00Z",
                                         "to": "2026-12-11T00:00:00Z",
                                         "calendarId": calendar["id"], "q": needle}).json()
        if listed["meta"]["totalCount"]:
            found.add(needle)
    assert found == finds
