"""The `calbridge` command line (DESIGN.md section 9)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from bridge.config import Settings, load_settings
from bridge.store.store import StoreError

if TYPE_CHECKING:
    from bridge.store.maintenance import MaintenancePolicy
    from bridge.wsgi import PathDispatcher


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit code 2."""


def _print(args: argparse.Namespace, data: dict, text: str) -> None:
    print(json.dumps(data) if getattr(args, "json", False) else text)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_overrides("server", host=args.host, port=args.port)
    workers = args.workers if args.workers is not None else int(settings.get("server", "workers"))
    if workers < 1:
        raise CliError(f"--workers must be at least 1, not {workers}")
    if workers > 1:
        return _serve_workers(settings, workers)
    import waitress

    from bridge.wsgi import build_application, max_body_bytes

    application = build_application(settings)
    try:  # listen first: a taken port is reported at once, before any work
        server = waitress.create_server(application, host=settings.host, port=settings.port,
                                        threads=int(settings.get("server", "threads")),
                                        # bridge/wsgi.py decides which proxies to believe
                                        clear_untrusted_proxy_headers=False, ident="calbridge",
                                        max_request_body_size=max_body_bytes(settings))
    except OSError as exc:
        raise CliError(f"cannot listen on {settings.host}:{settings.port}: "
                       f"{exc.strerror or exc}") from exc
    _banner(settings, 1)
    _start_background(application, settings)  # once the socket listens: serving never waits
    server.run()
    return 0


def _serve_workers(settings: Settings, workers: int) -> int:
    """N processes (gunicorn, bridge/workers.py); each builds its application after the fork."""
    import socket

    from bridge.workers import WorkerServer

    try:  # a taken port is reported at once, as with one process
        with socket.create_server((settings.host, settings.port)):
            pass
    except OSError as exc:
        raise CliError(f"cannot listen on {settings.host}:{settings.port}: "
                       f"{exc.strerror or exc}") from exc
    _banner(settings, workers)
    WorkerServer(settings, workers,
                 on_worker_start=lambda app: _start_background(app, settings)).run()
    return 0


def _banner(settings: Settings, workers: int) -> None:
    from bridge.mail import SmtpSettings

    smtp = SmtpSettings.from_settings(settings)
    base = f"http://{settings.host}:{settings.port}"
    print(f"calbridge serving on {base}" + (f" ({workers} processes)" if workers > 1 else ""),
          flush=True)
    print(f"  CalDAV:   {base}/  (clients discover via {base}/.well-known/caldav)", flush=True)
    print(f"  API:      {base}/api/  (health: {base}/api/health)", flush=True)
    print(f"  data:     {settings.database_url}", flush=True)
    print(f"  mail:     {'via ' + smtp.host if smtp.configured else 'no SMTP: kept in outbox'}",
          flush=True)


def _start_background(application: PathDispatcher, settings: Settings) -> None:
    """The outbox sender (when SMTP is set), the maintenance thread and the notification
    dispatcher of one process."""
    from bridge.mail import OutboxSender, SmtpSettings, configured_outbox
    from bridge.store.maintenance import MaintenanceThread

    store = application.store  # the one store, built once from the settings
    smtp = SmtpSettings.from_settings(settings)
    if smtp.configured:
        OutboxSender(configured_outbox(store, settings), smtp,
                     float(settings.get("smtp", "interval"))).start()
    MaintenanceThread(store, maintenance_policy(settings),
                      float(settings.get("maintenance", "interval"))).start()
    if application.pushes is not None:
        from bridge.notify.dispatcher import Dispatcher, DispatcherThread
        from bridge.notify.service import WebhookSettings

        pushes = application.pushes
        DispatcherThread(Dispatcher(store, pushes, WebhookSettings.from_settings(settings)),
                         pushes.settings.interval).start()


def maintenance_policy(settings: Settings) -> MaintenancePolicy:
    from bridge.store.maintenance import DAY, MaintenancePolicy

    def days(key: str) -> int:
        return int(float(settings.get("maintenance", key)) * DAY)

    return MaintenancePolicy(
        change_log_retention_seconds=days("change_log_retention_days"),
        sent_mail_retention_seconds=days("sent_mail_retention_days"),
        delivered_webhook_retention_seconds=int(
            float(settings.get("webhooks", "delivered_retention_days")) * DAY),
        auth_failure_window_seconds=int(settings.get("security", "auth_failure_window")),
        batch_size=int(settings.get("maintenance", "batch_size")))


def cmd_maintenance(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.store.maintenance import run_maintenance
    from bridge.wsgi import open_configured_store

    report = run_maintenance(open_configured_store(settings), maintenance_policy(settings))
    counts = report.as_dict()
    _print(args, counts, "\n".join(f"{key.replace('_', ' ')}: {value}"
                                   for key, value in counts.items()))
    return 0


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.store.accounts import Accounts
    from bridge.wsgi import open_configured_store

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    if not password:
        print("error: give --password or --password-stdin", file=sys.stderr)
        return 2
    accounts = Accounts(open_configured_store(settings).db)
    user = accounts.add_user(args.username, args.email, password)
    _print(args, {"id": user.id, "username": user.username, "email": user.email},
           f"user {user.username} <{user.email}> added")
    return 0


def cmd_user_set_password(args: argparse.Namespace, settings: Settings) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    _accounts(settings).set_password(args.username, password)
    _print(args, {"username": args.username}, f"password of {args.username} set")
    return 0


def cmd_migrate_radicale(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bridge.radicale_move import move_folder
    from bridge.wsgi import open_configured_store

    report = move_folder(open_configured_store(settings), Path(args.folder),
                         htpasswd=Path(args.htpasswd) if args.htpasswd else None,
                         email_domain=args.email_domain, dry_run=args.dry_run,
                         progress=not args.json)
    _print(args, report.as_dict(), report.summary())
    return 0 if not report.skipped else 1


def _accounts(settings: Settings):  # type: ignore[no-untyped-def]
    from bridge.store.accounts import Accounts
    from bridge.wsgi import open_configured_store

    return Accounts(open_configured_store(settings).db)


def cmd_workspace_create(args: argparse.Namespace, settings: Settings) -> int:
    ws = _accounts(settings).create_workspace(args.name, args.owner)
    _print(args, {"id": ws.id, "uuid": ws.uuid, "name": ws.name}, ws.uuid)
    return 0


def cmd_workspace_add_member(args: argparse.Namespace, settings: Settings) -> int:
    _accounts(settings).add_member(args.workspace, args.username, args.role)
    _print(args, {"workspace": args.workspace, "username": args.username, "role": args.role},
           f"{args.username} is now {args.role} of {args.workspace}")
    return 0


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _token_dict(token) -> dict:  # type: ignore[no-untyped-def]
    return {"id": token.id, "prefix": token.prefix, "title": token.title,
            "workspaceId": token.workspace_id, "scopes": list(token.scopes),
            "accessLevel": token.access_level, "operations": list(token.operations),
            "calendarIds": None if token.calendar_ids is None else list(token.calendar_ids),
            "pastDays": token.past_days, "futureDays": token.future_days,
            "expiresAt": token.expires_at, "revokedAt": token.revoked_at,
            "lastUsedAt": token.last_used_at}


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    calendars = _csv(args.calendars)
    secret, token = _accounts(settings).create_token(
        args.user, args.workspace, _csv(args.scopes) or [], title=args.title,
        access_level=args.access_level, operations=_csv(args.operations),
        visible_fields=_csv(args.visible_fields),
        calendar_ids=None if calendars is None else [int(c) for c in calendars],
        past_days=args.past_days, future_days=args.future_days,
        expires_in_days=args.expires_in_days)
    _print(args, {"token": secret, **_token_dict(token)}, secret)
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    accounts = _accounts(settings)
    user = accounts.get_user(args.user)
    if user is None:
        raise LookupError(f"no user {args.user}")
    tokens = accounts.tokens(user_id=user.id)
    if args.json:
        print(json.dumps([_token_dict(t) for t in tokens]))
    for t in tokens if not args.json else ():
        state = "revoked" if t.revoked_at else "active"
        print(f"{t.id}\tcb_{t.prefix}_…\t{state}\t{','.join(t.scopes)}\t{t.title}")
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    token = _accounts(settings).revoke_token(args.token_id)
    _print(args, _token_dict(token), f"token {token.id} revoked")
    return 0


def _outbox(settings: Settings):  # type: ignore[no-untyped-def]
    from bridge.mail import configured_outbox
    from bridge.wsgi import open_configured_store

    return configured_outbox(open_configured_store(settings), settings)


def cmd_outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.core.mail_header import single_line

    messages = _outbox(settings).messages(status=args.status)
    if args.json:
        print(json.dumps([{"id": m.id, "method": m.method, "status": m.status,
                           "recipients": list(m.recipients), "subject": m.subject,
                           "attempts": m.attempts, "lastError": m.last_error,
                           "createdAt": m.created_at, "sentAt": m.sent_at}
                          for m in messages]))
        return 0
    for m in messages:
        # Stored data may hold tabs and line breaks (that is why some mail failed): one row each.
        columns = [str(m.id), m.status, m.method, ",".join(m.recipients), m.subject,
                   m.last_error or ""]
        print("\t".join(single_line(c) for c in columns).rstrip("\t"))
    return 0


def cmd_outbox_retry(args: argparse.Namespace, settings: Settings) -> int:
    count = _outbox(settings).retry_failed()
    _print(args, {"requeued": count}, f"{count} failed messages queued again")
    return 0


def cmd_outbox_send(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.mail import SmtpSettings, deliver_due

    smtp = SmtpSettings.from_settings(settings)
    if not smtp.configured:
        print("error: no smtp.host configured; messages stay queued", file=sys.stderr)
        return 2
    sent, failed = deliver_due(_outbox(settings), smtp, limit=10_000)
    _print(args, {"sent": sent, "failed": failed}, f"sent {sent}, failed {failed}")
    return 0 if not failed else 1


def cmd_mail_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """One RFC 5322 message on stdin (an MTA pipe, a fetchmail rule): its iMIP REPLY is
    recorded in the organizer's copy. A message with nothing to record is accepted too (exit
    0, "ignored: why"), so the MTA does not bounce it back to the attendee."""
    from bridge.service.scheduling import ReplyRefused, Scheduler, calendar_parts, mail_sender
    from bridge.wsgi import open_configured_store

    raw = sys.stdin.buffer.read(int(settings.get("input", "max_json_bytes")) * 10 + 1)
    if len(raw) > int(settings.get("input", "max_json_bytes")) * 10:
        raise CliError("the message is larger than this command reads")
    scheduler = Scheduler(open_configured_store(settings))
    results = []
    for text in calendar_parts(raw) or [""]:
        try:
            results.append({"applied": True, "detail": scheduler.apply_reply(
                text, mail_sender(raw))} if text else
                {"applied": False, "detail": "the message carries no calendar part"})
        except ReplyRefused as exc:
            results.append({"applied": False, "detail": str(exc)})
    _print(args, {"results": results}, "\n".join(
        ("applied: " if r["applied"] else "ignored: ") + str(r["detail"]) for r in results))
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.importer import import_calendar
    from bridge.wsgi import open_configured_store

    report = import_calendar(open_configured_store(settings), args.calendar_path, args.file,
                             progress=not args.json, workers=args.workers)
    _print(args, report.as_dict(), report.summary())
    return 0 if report.imported or not report.skipped else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calbridge", description=__doc__)
    parser.add_argument("--config", help="TOML configuration (default: $CALBRIDGE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the CalDAV + API server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int,
                       help="server processes on the one store (default: server.workers)")
    serve.set_defaults(func=cmd_serve)
    _add_user_commands(commands)
    _add_workspace_commands(commands)
    _add_token_commands(commands)
    _add_outbox_commands(commands)
    _add_mail_commands(commands)
    _command(commands, "maintenance", cmd_maintenance,
             "roll the occurrence horizon and prune old rows once (for cron)")
    imp = _command(commands, "import", cmd_import,
                   "import a whole-calendar .ics into a calendar")
    imp.add_argument("calendar_path", help="/<username>/<calendar>/")
    imp.add_argument("file")
    imp.add_argument("--workers", type=int,
                     help="processes that parse and index (default: one per core)")
    move = _command(commands, "migrate-radicale", cmd_migrate_radicale,
                    "move a Radicale storage folder (users, calendars, address books) in")
    move.add_argument("folder", help="Radicale's [storage] filesystem_folder")
    move.add_argument("--htpasswd", help="Radicale's htpasswd file: passwords carried over")
    move.add_argument("--email-domain",
                      help="new users' email is USER@DOMAIN (unless USER is an address)")
    move.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    return parser


# argparse names the type of add_subparsers() only privately.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler = Callable[[argparse.Namespace, Settings], int]


def _group(commands: Commands, name: str, help_text: str) -> Commands:
    """``calbridge <name> <command>``: a family of commands."""
    return commands.add_parser(name, help=help_text).add_subparsers(
        dest=f"{name}_command", required=True)


def _command(commands: Commands, name: str, func: Handler, help_text: str
             ) -> argparse.ArgumentParser:
    """One command running ``func``; every command but serve can answer in JSON (--json)."""
    command = commands.add_parser(name, help=help_text)
    command.add_argument("--json", action="store_true")
    command.set_defaults(func=func)
    return command


def _add_user_commands(commands: Commands) -> None:
    users = _group(commands, "user", "manage users")
    add = _command(users, "add", cmd_user_add, "add a user (CalDAV login)")
    add.add_argument("username")
    add.add_argument("--email", required=True)
    secret = add.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password")
    secret.add_argument("--password-stdin", action="store_true")
    reset = _command(users, "set-password", cmd_user_set_password,
                     "set a user's password (users moved from Radicale start without one)")
    reset.add_argument("username")
    secret = reset.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password")
    secret.add_argument("--password-stdin", action="store_true")


def _add_workspace_commands(commands: Commands) -> None:
    workspace = _group(commands, "workspace", "manage workspaces")
    ws_create = _command(workspace, "create", cmd_workspace_create,
                         "create a workspace; prints its UUID")
    ws_create.add_argument("name")
    ws_create.add_argument("--owner", required=True)
    ws_add = _command(workspace, "add-member", cmd_workspace_add_member,
                      "add (or re-role) a member")
    ws_add.add_argument("workspace", help="workspace UUID")
    ws_add.add_argument("username")
    ws_add.add_argument("--role", default="member", choices=["member", "admin"])


def _add_token_commands(commands: Commands) -> None:
    token = _group(commands, "token", "manage API tokens")
    tk_create = _command(token, "create", cmd_token_create, "create a token; prints it once")
    tk_create.add_argument("--user", required=True)
    tk_create.add_argument("--workspace", required=True, help="workspace UUID")
    tk_create.add_argument("--scopes", required=True, help="e.g. calendars:read,calendars:write")
    tk_create.add_argument("--title", default="")
    tk_create.add_argument("--calendars", help="allow-list of calendar ids, comma separated")
    tk_create.add_argument("--past-days", type=int)
    tk_create.add_argument("--future-days", type=int)
    tk_create.add_argument("--access-level", choices=["free_busy_only", "view_only",
                                                      "full_access"],
                           help="default: full_access with a write scope, else view_only")
    tk_create.add_argument("--operations", help="allowed operations, comma separated, or all")
    tk_create.add_argument("--visible-fields", help="visible fields, comma separated, or all")
    tk_create.add_argument("--expires-in-days", type=int)
    tk_list = _command(token, "list", cmd_token_list, "a user's tokens (never their secrets)")
    tk_list.add_argument("--user", required=True)
    tk_revoke = _command(token, "revoke", cmd_token_revoke, "revoke a token at once")
    tk_revoke.add_argument("token_id", type=int)


def _add_mail_commands(commands: Commands) -> None:
    mail = _group(commands, "mail", "mail coming back to the server")
    _command(mail, "ingest", cmd_mail_ingest,
             "record the iMIP REPLY in one message read on stdin (for an MTA pipe)")


def _add_outbox_commands(commands: Commands) -> None:
    outbox = _group(commands, "outbox", "notification mail waiting or sent")
    ob_list = _command(outbox, "list", cmd_outbox_list,
                       "messages in the outbox: id, status, method, recipients, subject, reason")
    ob_list.add_argument("--status", choices=["queued", "sending", "sent", "failed"])
    _command(outbox, "retry", cmd_outbox_retry, "queue failed messages again")
    _command(outbox, "send", cmd_outbox_send, "deliver what is due now (for cron)")


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """The command line; ``environ`` stands for the process environment (the tests run the
    account commands in their own process with a server's environment)."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config, environ)
        logging.basicConfig(level=str(settings.get("logging", "level")).upper())
        return int(args.func(args, settings))
    except OSError as exc:  # a file that cannot be read: its name and why, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except (CliError, ValueError, LookupError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
