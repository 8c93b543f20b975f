"""The commands about the files units send in: collect, check, release, status, reopen, ledger.

They take files in, judge them, show where every unit stands in a period and mend the record
(release a held file, reopen a closed period, rebuild the ledger). Each makes one call to
``baocao.api``, prints its result as text or ``--json``, and returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from baocao import api
from baocao.cli.show import (
    EXIT_DATA,
    EXIT_OK,
    RESULT_LABELS,
    SOURCE_LABELS,
    console_width,
    format_table,
    print_json,
    via,
    write_wrapped,
)


def _progress(err: TextIO) -> Callable[[int, int, str], None]:
    """A progress bar on a terminal, plain log lines every 50 files otherwise."""
    tty = hasattr(err, "isatty") and err.isatty()

    def show(done: int, total: int, name: str) -> None:
        if tty:
            filled = int(30 * done / max(total, 1))
            err.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
            if done == total:
                err.write("\n")
            err.flush()
        elif total >= 50 and (done % 50 == 0 or done == total):
            err.write(f"đã đọc {done}/{total} tệp\n")

    return show


def cmd_collect(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    report = api.collect(dep, now=args.now, progress=_progress(sys.stderr), source=args.source)
    if args.json:
        print_json(report.to_dict(), out)
        return EXIT_DATA if report.had_problems else EXIT_OK
    _write_results(report, out)
    out.write(
        f"Tiếp nhận {report.count('accepted')}, trả lại {report.count('rejected')}, "
        f"chờ xác minh {report.count('held')}, trùng lặp {report.count('duplicate')}, "
        f"kỳ đã khóa {report.count('locked')}, lỗi khi xử lý {report.count('failed')}, "
        f"bỏ qua {len(report.skipped)}, "
        f"chờ tệp chép xong {len(report.waiting)}\n"
    )
    return EXIT_DATA if report.had_problems else EXIT_OK


def _write_results(report: api.CollectReport, out: TextIO) -> None:
    """One line per judged file: verdict, unit, period, name, the first error or the warnings."""
    for r in report.results:
        first = next((i.message for i in r.issues if i.severity == "error"), "")
        warnings = [i for i in r.issues if i.severity == "warning"]
        if r.status == "held":
            first = next((i.message for i in warnings if i.code == "unverified_identity"), "")
        if r.status == "locked":
            first = next((i.message for i in warnings if i.code == "period_locked"), first)
        note = first or (f"{len(warnings)} lưu ý" if warnings else "")
        out.write(f"{RESULT_LABELS[r.status]:<12} {r.unit or '?':<9} {r.period or '?':<8} {r.name}  {note}\n")
    for name, reason in report.skipped:
        out.write(f"{'bỏ qua':<12} {'?':<9} {'?':<8} {name}  {reason}\n")
    for source, reason in report.unavailable:
        out.write(f"{'chưa đọc được':<12} {SOURCE_LABELS.get(source, source)}: {reason}\n")


def cmd_release(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    report = api.release(dep, args.file_id, now=args.now)
    if args.json:
        print_json(report.to_dict(), out)
        return EXIT_DATA if report.had_problems else EXIT_OK
    _write_results(report, out)
    return EXIT_DATA if report.had_problems else EXIT_OK


def cmd_check(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    outcome = api.check(dep, Path(args.file), now=args.now)
    if args.json:
        print_json(
            {
                "accepted": outcome.accepted,
                "unit": outcome.unit,
                "period": outcome.period,
                "form_version": outcome.form_version,
                "issues": [i.to_dict() for i in outcome.issues],
            },
            out,
        )
        return EXIT_OK if outcome.accepted else EXIT_DATA
    verdict = "ĐẠT: sẽ được tiếp nhận" if outcome.accepted else "KHÔNG ĐẠT: sẽ bị trả lại"
    out.write(f"{args.file}: {verdict} (đơn vị {outcome.unit or '?'}, kỳ {outcome.period or '?'})\n")
    for issue in outcome.issues:
        level = "Lỗi   " if issue.severity == "error" else "Lưu ý "
        out.write(f"  {level} {issue.message}\n")
    return EXIT_OK if outcome.accepted else EXIT_DATA


def cmd_status(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    rows = api.status(dep, args.period)
    held, strays = api.held(dep, args.period), api.unattributed(dep, args.period)
    kept, failures = api.locked(dep, args.period), api.failed(dep, args.period)
    if args.json:
        data = {
            "period": args.period,
            "units": [r.to_dict() for r in rows],
            "held": [rec.to_dict() for rec in held],
            "locked": [rec.to_dict() for rec in kept],
            "failed": [rec.to_dict() for rec in failures],
            "unattributed": [rec.to_dict() for rec in strays],
        }
        print_json(data, out)
        return EXIT_OK
    tz = dep.settings.timezone
    table = []
    for r in rows:
        when = r.received_at.astimezone(tz).strftime("%d/%m/%Y %H:%M") if r.received_at else ""
        note = r.issues[0].message if r.status == "rejected" and r.issues else (r.last_file or "")
        table.append((r.unit.code, r.unit.name, r.label, when, via(r.source, r.sender), note))
    headers = ["mã", "đơn vị", "tình trạng", "nhận lúc", "nộp qua", "ghi chú / tệp"]
    out.write(format_table(table, headers, width=console_width(), clip={1: 34, 4: 40}) + "\n")
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("on_time", "late", "rejected", "missing")}
    out.write(
        f"{len(rows)} đơn vị: đúng hạn {counts['on_time']}, chậm {counts['late']}, "
        f"bị trả lại {counts['rejected']}, chưa nộp {counts['missing']}\n"
    )

    def item(text: str) -> None:
        write_wrapped(out, text)

    if held:
        item(
            f"{len(held)} tệp chờ xác minh (không có chữ ký hợp lệ; chưa thay thế báo cáo nào; "
            "cho vào bằng: baocao release SỐ):"
        )
        for rec in held:
            when = rec.received_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
            reason = next((i.message for i in rec.issues if i.code == "unverified_identity"), "")
            item(f"số {rec.id}  {when}  {rec.unit}  {rec.inbox_path}: {reason}")
    _write_kept(kept, failures, args.period, tz, out)
    if strays:
        item(f"{len(strays)} tệp bị trả lại không tính cho đơn vị nào (chỉ báo lại người gửi):")
        for rec in strays:
            when = rec.received_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
            reason = rec.errors[0].message if rec.errors else (rec.issues[0].message if rec.issues else "")
            claim = f" (ghi mã {rec.claimed_unit})" if rec.claimed_unit else ""
            item(f"{when}  {rec.inbox_path}{claim}: {reason}")
    return EXIT_OK


def _write_kept(kept: list, failures: list, period: str, tz: Any, out: TextIO) -> None:
    """Files the coordinator must look at: kept after the period closed, or failed in processing."""
    if kept:
        out.write("\n")
        write_wrapped(
            out,
            f"{len(kept)} tệp gửi sau khi kỳ đã khóa sổ (được lưu, không thay thế báo cáo đã tiếp nhận; "
            f"cho vào bằng: baocao reopen --period {period} --unit MÃ):",
            indent="",
        )
        for rec in kept:
            when = rec.received_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
            write_wrapped(out, f"{when}  {rec.unit or '?'}  {rec.inbox_path}")
    if failures:
        out.write("\n")
        write_wrapped(
            out, f"{len(failures)} tệp chương trình gặp lỗi khi xử lý (đã lưu trữ; xem nhật ký):", ""
        )
        for rec in failures:
            when = rec.received_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
            write_wrapped(out, f"{when}  {rec.inbox_path}: {rec.issues[0].message if rec.issues else ''}")


def cmd_reopen(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    result = api.reopen(dep, args.period, args.unit, now=args.now)
    if args.json:
        print_json(result.to_dict(), out)
        return EXIT_OK
    out.write(
        f"Đã mở lại kỳ {result.period} cho đơn vị {result.unit} (ghi vào sổ theo dõi và thư mục lưu trữ).\n"
    )
    if result.file is not None:
        when = result.file.received_at.astimezone(dep.settings.timezone).strftime("%d/%m/%Y %H:%M")
        out.write(
            f"Tệp '{result.file.original_name}' (nhận lúc {when}) sẽ được xét lại và thay thế báo cáo "
            "hiện có ở lần thu nhận tới (baocao collect hoặc run-due).\n"
        )
    else:
        out.write("Chưa có tệp nào đang chờ: tệp tiếp theo của đơn vị cho kỳ này sẽ được nhận.\n")
    return EXIT_OK


def cmd_ledger(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    result = api.ledger_rebuild(dep, now=args.now, force=args.force)
    if args.json:
        print_json(result.to_dict(), out)
        return EXIT_OK
    counts = ", ".join(f"{RESULT_LABELS.get(k, k)} {v}" for k, v in sorted(result.counts.items()))
    out.write(f"Đã dựng lại sổ theo dõi {result.ledger} từ thư mục lưu trữ: {result.files} tệp ({counts}).\n")
    if result.reopenings:
        out.write(f"Đã áp dụng lại {result.reopenings} lần mở lại kỳ.\n")
    if result.old_ledger:
        out.write(f"Sổ cũ được giữ lại ở {result.old_ledger}.\n")
    for note in result.notes:
        out.write(f"  lưu ý: {note}\n")
    return EXIT_OK
