"""``calbridge migrate-radicale FOLDER``: a Radicale storage folder moved into the store.

Reads Radicale's multifilesystem layout (``FOLDER/collection-root/<user>/<collection>/``,
each collection's properties in ``.Radicale.props``, one object per file) without Radicale.

Decisions:
- Same paths, same hrefs, same properties: a collection keeps its path, each object its file
  name, and ``.Radicale.props`` is stored as it is (calbridge keeps Radicale's property names),
  so clients pointed at calbridge on the same URL find what they had.
- Each object is stored as the file holds it (byte for byte, decoded as UTF-8 as Radicale
  writes it), through the store's one write path: the store's checks (size, limits, one
  object per UID, vCards only in address books) apply, and an object they refuse is skipped
  with the reason. Radicale's caches, locks and other dot files are not objects.
- Users: every ``collection-root/<user>`` folder and every htpasswd entry is a user. A user
  calbridge has already is left as it is. A new one gets the email ``<user>`` when the name is
  an address, else ``<user>@<--email-domain>``. Passwords come only from ``--htpasswd``: an
  argon2 entry is kept as it is, a plain-text entry (Radicale's ``htpasswd_encryption =
  plain``) is hashed with argon2; a bcrypt, MD5 or SHA entry cannot be verified by calbridge,
  so that account, like every account without an htpasswd entry, is created locked until
  ``calbridge user set-password`` (the summary lists them).
- Idempotent: a second run changes nothing and says so (objects whose text is unchanged are
  not rewritten, properties equal to the stored ones are not set). Objects calbridge holds that
  the folder does not are kept: the move never deletes.
- ``--dry-run`` reads and checks everything and writes nothing; its summary is the one a real
  run would print.
- Objects are written ``BATCH`` at a time in one transaction per collection batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from bridge.core.index import InvalidObject
from bridge.core.mail_header import check_email
from bridge.store.accounts import LOCKED, Accounts, hash_password
from bridge.store.store import CalendarStore, CollectionRecord, Conflict, StoreError

BATCH = 500
PROPS_FILE = ".Radicale.props"


@dataclass
class MoveReport:
    dry_run: bool = False
    users_created: list[str] = field(default_factory=list)
    users_locked: list[tuple[str, str]] = field(default_factory=list)  # (user, why)
    collections_created: int = 0
    collections_updated: int = 0
    objects_written: int = 0
    objects_unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    def as_dict(self) -> dict:
        return {"dryRun": self.dry_run, "usersCreated": self.users_created,
                "usersWithoutPassword": [{"user": u, "reason": r}
                                         for u, r in self.users_locked],
                "collectionsCreated": self.collections_created,
                "collectionsUpdated": self.collections_updated,
                "objectsWritten": self.objects_written,
                "objectsUnchanged": self.objects_unchanged,
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        lines = [f"users {would}created: {len(self.users_created)}",
                 f"collections {would}created: {self.collections_created}, "
                 f"{would}updated: {self.collections_updated}",
                 f"objects {would}written: {self.objects_written}, "
                 f"unchanged: {self.objects_unchanged}, skipped: {len(self.skipped)}"]
        lines += [f"  no password for {user} ({why}): calbridge user set-password {user}"
                  for user, why in self.users_locked]
        lines += [f"  skipped {path}: {why}" for path, why in self.skipped]
        return "\n".join(lines)


@dataclass
class FolderCollection:
    path: str  # "user/calendar"
    folder: Path
    props: dict[str, str] | None  # None: no .Radicale.props (a plain folder, a principal)
    items: list[Path]


def collection_root(folder: Path) -> Path:
    root = folder / "collection-root"
    if not root.is_dir():
        raise ValueError(f"{folder} is no Radicale storage folder: it has no collection-root/")
    return root


def read_collections(folder: Path, report: MoveReport) -> list[FolderCollection]:
    """Every collection under ``collection-root``, parents before children."""
    root = collection_root(folder)
    found = []
    for directory in sorted(p for p in root.rglob("*") if p.is_dir()):
        relative = directory.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue  # .Radicale.cache, .Radicale.tmp-*
        path = relative.as_posix()
        props = None
        props_file = directory / PROPS_FILE
        if props_file.is_file():
            try:
                loaded = json.loads(props_file.read_text(encoding="utf-8"))
                if not isinstance(loaded, dict):
                    raise ValueError("not a JSON object")
                props = {str(k): str(v) for k, v in loaded.items()}
            except ValueError as exc:
                report.skipped.append((f"/{path}/{PROPS_FILE}", f"unreadable: {exc}"))
        items = sorted(p for p in directory.iterdir()
                       if p.is_file() and not p.name.startswith("."))
        found.append(FolderCollection(path, directory, props, items))
    return found


def read_htpasswd(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            user, _, secret = line.partition(":")
            entries[user.strip()] = secret.strip()
    return entries


def password_hash(secret: str | None) -> tuple[str, str | None]:
    """(stored hash, why the account is locked or None) of an htpasswd entry."""
    if secret is None:
        return LOCKED, "no htpasswd entry"
    if secret.startswith("$argon2"):
        return secret, None
    if secret.startswith(("$", "{SHA}")):
        scheme = secret.split("$")[1] if secret.startswith("$") else "SHA"
        return LOCKED, f"its htpasswd hash (${scheme}$) cannot be verified by calbridge"
    return hash_password(secret), None


def email_for(user: str, email_domain: str | None) -> str:
    if "@" in user:
        try:
            check_email(user)
            return user
        except ValueError:
            pass
    if not email_domain:
        raise ValueError(f"user {user} needs an email address: give --email-domain")
    return f"{user}@{email_domain}"


def move_users(accounts: Accounts, users: list[str], htpasswd: dict[str, str],
               email_domain: str | None, report: MoveReport) -> None:
    for user in users:
        if accounts.get_user(user) is not None:
            continue
        stored, locked = password_hash(htpasswd.get(user))
        email = email_for(user, email_domain)  # checked in a dry run too
        if not report.dry_run:
            accounts.add_user_with_hash(user, email, stored)
        report.users_created.append(user)
        if locked:
            report.users_locked.append((user, locked))


def move_collection(store: CalendarStore, found: FolderCollection, report: MoveReport,
                    bar: tqdm) -> None:
    record = store.get_collection(found.path)
    if record is None:
        report.collections_created += 1
        if not report.dry_run:
            record, _, _ = store.create_collection(found.path, found.props)
    elif found.props is not None and dict(record.props) != found.props:
        report.collections_updated += 1
        if not report.dry_run:
            record = store.set_props(record.id, found.props)
    tag = (found.props or {}).get("tag", "")
    for start in range(0, len(found.items), BATCH):
        batch = found.items[start:start + BATCH]
        _move_objects(store, record, tag, found.path, batch, report)
        bar.update(len(batch))


def _move_objects(store: CalendarStore, record: CollectionRecord | None, tag: str, path: str,
                  files: list[Path], report: MoveReport) -> None:
    existing = {r.href: r.etag for r in store.get_objects(record.id, [f.name for f in files])} \
        if record is not None else {}
    prepared = []
    for file in files:
        where = f"/{path}/{file.name}"
        if not tag:
            report.skipped.append((where, "the collection is neither a calendar nor an "
                                          "address book"))
            continue
        try:
            text = file.read_bytes().decode("utf-8")
            obj = store.prepare(text)
        except UnicodeDecodeError:
            report.skipped.append((where, "not UTF-8 text"))
            continue
        except InvalidObject as exc:
            report.skipped.append((where, str(exc)))
            continue
        if existing.get(file.name) == obj.etag:
            report.objects_unchanged += 1
        else:
            prepared.append((where, file.name, obj))
    if report.dry_run or record is None:
        report.objects_written += len(prepared)  # a dry run: refusals below are not known
        return
    with store.write(path):
        for where, href, obj in prepared:
            try:
                store.put_object(record.id, href, obj)
            except (Conflict, InvalidObject) as exc:
                report.skipped.append((where, str(exc)))
                continue
            report.objects_written += 1


def move_folder(store: CalendarStore, folder: Path, *, htpasswd: Path | None = None,
                email_domain: str | None = None, dry_run: bool = False,
                progress: bool = True) -> MoveReport:
    report = MoveReport(dry_run=dry_run)
    collections = read_collections(folder, report)
    entries = read_htpasswd(htpasswd) if htpasswd is not None else {}
    users = sorted({c.path.split("/")[0] for c in collections} | set(entries))
    move_users(Accounts(store.db), users, entries, email_domain, report)
    bar = tqdm(total=sum(len(c.items) for c in collections), desc="moving", unit="obj",
               disable=not progress)
    try:
        for found in collections:
            try:
                move_collection(store, found, report, bar)
            except StoreError as exc:
                report.skipped.append((f"/{found.path}/", str(exc)))
    finally:
        bar.close()
    return report
