"""Property-based runs over the OpenAPI operations of both API families: no input yields a
5xx."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api_helpers import Api, cli_json, make_token, seed_calendar
from tests.conftest import PASSWORD, Server

# `make test` replays the same examples every run (a fuzz finding must not make CI flaky);
# CALBRIDGE_FUZZ_RANDOM=1 explores new ones, CALBRIDGE_FUZZ_EXAMPLES sets how many.
EXAMPLES = int(os.environ.get("CALBRIDGE_FUZZ_EXAMPLES", "25"))
DERANDOMIZE = not os.environ.get("CALBRIDGE_FUZZ_RANDOM")

FAMILIES = {
    # calendars, their schedules, slots, feeds and shares
    "calendars": r"^/api/v2/w/\{workspace_uuid\}/calendars",
    "access events": r"^/api/access/calendar/",
    "webhooks": r"^/api/v2/w/\{workspace_uuid\}/webhooks",
}


@dataclass(frozen=True)
class FuzzTarget:
    server: Server
    workspace: str
    token: str
    calendar_id: int
    event_ids: list[str]   # events of that calendar: single, recurring, with attendees


@pytest.fixture(scope="module")
def fuzz_target(api_server: Server) -> Iterator[FuzzTarget]:
    """A calendar that holds what real ones do (events, series with overrides and EXDATEs,
    attendees, all-day events, a to-do, a schedule), so operations reach stored data."""
    ws = cli_json(api_server, "workspace", "create", "Fuzz", "--owner", "alice")["uuid"]
    api = Api(api_server, ws, make_token(api_server, "alice", ws, "calendars:admin"))
    created = api.post("/calendars", json={"name": "fuzz"}).json()
    event_ids = seed_calendar(api, created, PASSWORD)
    assert api.post(f"/calendars/{created['id']}/schedules", json={
        "name": "Weekdays", "daysOfWeek": ["MO", "TU", "WE", "TH", "FR"], "startTime": "08:00",
        "endTime": "18:00"}).status_code == 201
    yield FuzzTarget(api_server, ws, api.token, created["id"], event_ids)


@pytest.mark.parametrize(("family", "minimum"), [("calendars", 15), ("access events", 8),
                                                    ("webhooks", 7)])
def test_no_input_yields_a_server_error(fuzz_target: FuzzTarget, family: str,
                                        minimum: int) -> None:
    server, ws, token = fuzz_target.server, fuzz_target.workspace, fuzz_target.token
    calendar_id, event_ids = fuzz_target.calendar_id, fuzz_target.event_ids
    schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json").include(
        path_regex=FAMILIES[family])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= minimum
    statuses: list[int] = []

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  derandomize=DERANDOMIZE, suppress_health_check=list(HealthCheck))
        def no_server_error(case: schemathesis.Case) -> None:
            # Aim at a real workspace and calendar, so validation and the store are exercised
            # and not only the 404 of a random UUID.
            case.path_parameters = {**(case.path_parameters or {}), "workspace_uuid": ws}
            if "calendar_id" in case.path_parameters and case.method != "DELETE":
                case.path_parameters["calendar_id"] = calendar_id
            if "eventId" in case.path_parameters and case.method != "DELETE":
                case.path_parameters["eventId"] = event_ids[len(statuses) % len(event_ids)]
            if isinstance(case.body, dict) and "calendarId" in case.body:
                case.body["calendarId"] = calendar_id
            # Sent with plain requests: caldav's urllib3-future breaks schemathesis' own
            # connection bookkeeping.
            response = requests.request(**case.as_transport_kwargs(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}), timeout=30)
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                response.text)

        no_server_error()
    # the run reached both the validation errors and successful calls
    assert len(statuses) > 100
    assert any(s < 300 for s in statuses) and any(s == 400 for s in statuses)
