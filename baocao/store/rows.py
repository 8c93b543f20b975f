"""Rows of the SQLite ledger turned into the plain types of ``baocao.model``, and back to JSON."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime

from baocao.model import Action, FileRecord, Issue, MailThread, MessageRecord, Reopening, Sighting, Submission


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the ledger")


def dumps(value: object) -> str:
    if isinstance(value, list) and not value:  # most files' issues: no encoder for "[]"
        return "[]"
    return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=True)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def file_from_row(row: sqlite3.Row) -> FileRecord:
    return FileRecord(
        id=row["id"],
        sha256=row["sha256"],
        original_name=row["original_name"],
        inbox_path=row["inbox_path"],
        archive_path=row["archive_path"],
        size=row["size"],
        received_at=datetime.fromisoformat(row["received_at"]),
        status=row["status"],
        removed_from_inbox=bool(row["removed_from_inbox"]),
        processed_at=_time(row["processed_at"]),
        unit=row["unit"],
        period=row["period"],
        form_version=row["form_version"],
        issues=[Issue.from_dict(d) for d in json.loads(row["issues"])],
        duplicate_of=row["duplicate_of"],
        feedback_path=row["feedback_path"],
        contact=row["contact"],
        source=row["source"],
        sender=row["sender"],
        parent_id=row["parent_id"],
        arrival_key=row["arrival_key"],
        proof=row["proof"],
        claimed_unit=row["claimed_unit"],
        mail=MailThread.from_dict(json.loads(row["mail"])) if row["mail"] else None,
    )


def submission_from_row(row: sqlite3.Row) -> Submission:
    return Submission(
        id=row["id"],
        file_id=row["file_id"],
        unit=row["unit"],
        period=row["period"],
        form_version=row["form_version"],
        received_at=datetime.fromisoformat(row["received_at"]),
        values=json.loads(row["vals"]),
        warnings=tuple(Issue.from_dict(d) for d in json.loads(row["warnings"])),
        superseded_by=row["superseded_by"],
    )


def message_from_row(row: sqlite3.Row) -> MessageRecord:
    return MessageRecord(
        key=row["key"],
        kind=row["kind"],
        period=row["period"],
        unit=row["unit"],
        recipient=row["recipient"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=datetime.fromisoformat(row["created_at"]),
        sent_at=_time(row["sent_at"]),
        message_id=row["message_id"],
        outbox_file=row["outbox_file"],
        file_id=row["file_id"],
        subject=row["subject"],
        body=bytes(row["body"] or b""),
        recipients=tuple(json.loads(row["recipients"])),
    )


def reopening_from_row(row: sqlite3.Row) -> Reopening:
    return Reopening(
        row["id"], row["period"], row["unit"], datetime.fromisoformat(row["opened_at"]), row["file_id"]
    )


def sighting_from_row(row: sqlite3.Row) -> Sighting:
    return Sighting(
        row["inbox_path"],
        row["size"],
        row["mtime_ns"],
        datetime.fromisoformat(row["first_seen"]),
        datetime.fromisoformat(row["last_seen"]),
        _time(row["not_seen_at"]),
    )


def action_from_row(row: sqlite3.Row) -> Action:
    return Action(
        id=row["id"],
        at=datetime.fromisoformat(row["at"]),
        actor=row["actor"],
        action=row["action"],
        period=row["period"],
        unit=row["unit"],
        file_id=row["file_id"],
        detail=row["detail"],
    )
