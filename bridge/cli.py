"""The `calbridge` command line (DESIGN.md section 9)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from bridge.config import Settings, load_settings


def _print(args: argparse.Namespace, data: dict, text: str) -> None:
    print(json.dumps(data) if getattr(args, "json", False) else text)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import waitress

    from bridge.wsgi import build_application, open_configured_store

    settings = settings.with_overrides("server", host=args.host, port=args.port)
    application = build_application(settings)
    rolled = open_configured_store(settings).roll_horizon()
    base = f"http://{settings.host}:{settings.port}"
    print(f"calbridge serving on {base}", flush=True)
    print(f"  CalDAV:   {base}/  (clients discover via {base}/.well-known/caldav)", flush=True)
    print(f"  API:      {base}/api/  (health: {base}/api/health)", flush=True)
    print(f"  data:     {settings.database_url}", flush=True)
    if rolled:
        print(f"  re-indexed {rolled} recurring series for the rolling horizon", flush=True)
    waitress.serve(application, host=settings.host, port=settings.port,
                   threads=int(settings.get("server", "threads")), ident="calbridge",
                   _quiet=True)
    return 0


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.wsgi import open_configured_store
    from radicale_plugin.accounts import Accounts

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    if not password:
        print("error: give --password or --password-stdin", file=sys.stderr)
        return 2
    user = Accounts(open_configured_store(settings)).add_user(args.username, args.email, password)
    _print(args, {"id": user.id, "username": user.username, "email": user.email},
           f"user {user.username} <{user.email}> added")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.importer import import_calendar
    from bridge.wsgi import open_configured_store

    with open(args.file, encoding="utf-8-sig") as handle:
        text = handle.read()
    report = import_calendar(open_configured_store(settings), args.calendar_path, text,
                             progress=not args.json)
    _print(args, report.as_dict(), report.summary())
    return 0 if report.imported or not report.skipped else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calbridge", description=__doc__)
    parser.add_argument("--config", help="TOML configuration (default: $CALBRIDGE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the CalDAV + API server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True)
    add = user.add_parser("add", help="add a user (CalDAV login)")
    add.add_argument("username")
    add.add_argument("--email", required=True)
    secret = add.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password")
    secret.add_argument("--password-stdin", action="store_true")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_user_add)

    imp = commands.add_parser("import", help="import a whole-calendar .ics into a calendar")
    imp.add_argument("calendar_path", help="/<username>/<calendar>/")
    imp.add_argument("file")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings(args.config)
    logging.basicConfig(level=str(settings.get("logging", "level")).upper())
    try:
        return int(args.func(args, settings))
    except (ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
