"""Shares in the store and in the one access policy, in-process on SQLite and PostgreSQL:
levels, user and workspace shares, a member added later, invitations and answers, the
recipient's own settings, and nothing across workspaces."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.store.access import AccessPolicy, CalendarRights, authenticate
from bridge.store.accounts import Accounts
from bridge.store.engine import Database, get_engine
from bridge.store.migrate import upgrade
from bridge.store.records import NotFound
from bridge.store.shares import Grant, alias_calendar_id, alias_name, is_alias_name
from bridge.store.store import CalendarStore, CollectionRecord
from tests.conftest import PASSWORD, store_env


@dataclass
class Team:
    store: CalendarStore
    accounts: Accounts
    ids: dict[str, int]
    board: CollectionRecord     # alice's calendar in workspace Acme
    rival: CollectionRecord     # mallory's calendar in workspace Rival
    acme: int
    rival_ws: int

    def policy(self, username: str, token: str | None = None) -> AccessPolicy:
        policy = authenticate(self.accounts, None if token else username, token or PASSWORD)
        assert policy is not None
        return policy


@pytest.fixture
def team(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> Iterator[Team]:
    url = store_env(request, backend).get("CALBRIDGE_STORAGE_DATABASE_URL",
                                          f"sqlite:///{tmp_path / 'shares.sqlite3'}")
    engine = get_engine(url)
    upgrade(engine)
    store = CalendarStore(Database(engine))
    accounts = Accounts(store.db)
    ids = {u: accounts.add_user(u, f"{u}@example.com", PASSWORD).id
           for u in ("alice", "bob", "carol", "mallory")}
    acme = accounts.create_workspace("Acme", "alice")
    accounts.add_member(acme.uuid, "bob")
    rival = accounts.create_workspace("Rival", "mallory")
    props = {"tag": "VCALENDAR", "D:displayname": "Board", "ICAL:calendar-color": "#112233"}
    board, _, _ = store.create_collection("alice/board", props, workspace_id=acme.id)
    rival_cal, _, _ = store.create_collection("mallory/plans", props, workspace_id=rival.id)
    yield Team(store, accounts, ids, board, rival_cal, acme.id, rival.id)


READ = CalendarRights(True, True, False, False)
WRITE = CalendarRights(True, True, True, False)
FREEBUSY = CalendarRights(True, False, False, False)
NOTHING = CalendarRights(False, False, False, False)


@pytest.mark.parametrize(("level", "rights"), [("freebusy", FREEBUSY), ("read", READ),
                                               ("read-write", WRITE)])
def test_a_user_share_gives_its_level_and_never_delete_configure_or_sharing(
        team: Team, level: str, rights: CalendarRights) -> None:
    assert team.policy("bob").rights(team.board) == NOTHING
    share, created = team.store.shares.share_with_user(team.board.id, team.ids["bob"], level,
                                                       "alice")
    assert created is True and share.username == "bob" and share.status == "accepted"
    bob = team.policy("bob")
    assert bob.rights(team.board) == rights
    assert bob.access(team.board) == level
    assert bob.may_share(team.board) is False
    assert team.policy("alice").access(team.board) == "owner"


def test_sharing_again_changes_the_level_of_the_same_share(team: Team) -> None:
    first, _ = team.store.shares.share_with_user(team.board.id, team.ids["bob"], "read", "alice")
    again, created = team.store.shares.share_with_user(team.board.id, team.ids["bob"],
                                                       "read-write", "alice")
    assert (again.id, again.level, created) == (first.id, "read-write", False)
    assert team.policy("bob").rights(team.board) == WRITE
    team.store.shares.remove(again.id)
    assert team.policy("bob").rights(team.board) == NOTHING
    assert team.store.shares.of_calendar(team.board.id) == []


def test_a_workspace_share_reaches_a_member_added_afterwards(team: Team) -> None:
    team.store.shares.share_with_workspace(team.board.id, "read", "alice")
    assert team.policy("carol").rights(team.board) == NOTHING  # not a member yet
    team.accounts.add_member(_uuid(team, team.acme), "carol")
    assert team.policy("carol").rights(team.board) == READ
    assert team.policy("bob").rights(team.board) == READ
    assert team.store.shares.listed("carol") == {team.board.id: Grant(team.board.id, "read")}


def test_the_widest_of_user_and_workspace_share_counts(team: Team) -> None:
    team.store.shares.share_with_workspace(team.board.id, "freebusy", "alice")
    team.store.shares.share_with_user(team.board.id, team.ids["bob"], "read-write", "alice")
    assert team.policy("bob").rights(team.board) == WRITE


def test_nobody_outside_the_calendars_workspace_is_reached(team: Team) -> None:
    with pytest.raises(ValueError, match="not a member"):
        team.store.shares.share_with_user(team.board.id, team.ids["mallory"], "read", "alice")
    team.store.shares.share_with_workspace(team.board.id, "read-write", "alice")
    mallory = team.policy("mallory")
    assert mallory.rights(team.board) == NOTHING and mallory.sees(team.board) is False
    # a token of bob's other workspace does not carry the share either
    team.accounts.add_member(_uuid(team, team.rival_ws), "bob")
    token, _ = team.accounts.create_token("bob", team.rival_ws, ["calendars:admin"])
    bob_elsewhere = team.policy("bob", token)
    assert bob_elsewhere.sees(team.board) is False
    with pytest.raises(ValueError, match="owner"):
        team.store.shares.share_with_user(team.board.id, team.ids["alice"], "read", "alice")


def test_a_token_narrows_what_a_share_gives(team: Team) -> None:
    team.store.shares.share_with_user(team.board.id, team.ids["bob"], "read-write", "alice")
    read_token, _ = team.accounts.create_token("bob", team.acme, ["calendars:read"])
    assert team.policy("bob", read_token).rights(team.board) == READ
    fb_token, _ = team.accounts.create_token("bob", team.acme, ["calendars:read"],
                                             access_level="free_busy_only")
    assert team.policy("bob", fb_token).rights(team.board) == FREEBUSY
    admin_token, _ = team.accounts.create_token("bob", team.acme, ["calendars:admin"])
    assert team.policy("bob", admin_token).rights(team.board) == WRITE


def test_an_invitation_grants_nothing_until_accepted_and_a_decline_blocks_all(
        team: Team) -> None:
    team.store.shares.share_with_user(team.board.id, team.ids["bob"], "read", "alice",
                                      status="pending", summary="Our board")
    assert team.policy("bob").sees(team.board) is False
    [invitation] = team.store.shares.invitations(team.ids["bob"])
    assert (invitation.share.status, invitation.share.summary, invitation.owner,
            invitation.calendar_path) == ("pending", "Our board", "alice", "alice/board")
    team.store.shares.answer(team.ids["bob"], team.board.id, accept=True)
    assert team.policy("bob").rights(team.board) == READ
    team.store.shares.share_with_workspace(team.board.id, "read-write", "alice")
    team.store.shares.answer(team.ids["bob"], team.board.id, accept=False)
    assert team.policy("bob").rights(team.board) == NOTHING


def test_a_recipient_keeps_own_display_settings(team: Team) -> None:
    team.store.shares.share_with_workspace(team.board.id, "read", "alice")
    team.store.shares.set_settings(team.ids["bob"], team.board.id,
                                   props={"ICAL:calendar-color": "#FF0000"})
    assert team.store.shares.grant("bob", team.board.id) == Grant(
        team.board.id, "read", True, {"ICAL:calendar-color": "#FF0000"})
    team.store.shares.set_settings(team.ids["bob"], team.board.id,
                                   props={"ICAL:calendar-color": None}, visible=False)
    assert team.store.shares.grant("bob", team.board.id) == Grant(team.board.id, "read", False)
    assert team.store.shares.listed("bob") == {}
    # the settings row is no share of the calendar
    assert [s.workspace_id for s in team.store.shares.of_calendar(team.board.id)] == [team.acme]
    with pytest.raises(ValueError, match="only"):
        team.store.shares.set_settings(team.ids["bob"], team.board.id,
                                       props={"C:calendar-timezone": "x"})


def test_shares_go_with_their_calendar(team: Team) -> None:
    share, _ = team.store.shares.share_with_user(team.board.id, team.ids["bob"], "read", "alice")
    team.store.delete_collection(team.board.id)
    assert team.store.shares.get(share.id) is None
    with pytest.raises(NotFound):
        team.store.shares.remove(share.id)


def test_alias_names_are_stable_and_reserved() -> None:
    assert alias_name(42) == "shared-42" and alias_calendar_id("shared-42") == 42
    assert alias_calendar_id("shared-042") is None and alias_calendar_id("board") is None
    assert is_alias_name("shared-7") and not is_alias_name("shared-x")


def _uuid(team: Team, workspace_id: int) -> str:
    workspace = team.accounts.get_workspace(workspace_id)
    assert workspace is not None
    return workspace.uuid
