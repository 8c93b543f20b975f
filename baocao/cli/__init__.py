"""The ``baocao`` command: a thin argparse layer over ``baocao.api``.

Each subcommand parses its arguments, makes one library call and prints the result as a table
or (``--json``) as JSON. Library exceptions become one readable line and an exit code:
0 all went well, 1 the data had problems, 2 usage or configuration errors. ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO, cast

from baocao import api
from baocao.cli.parser import build_parser
from baocao.cli.show import (
    EXIT_DATA,
    EXIT_OK,
    EXIT_USAGE,
    RESULT_LABELS,
    SOURCE_LABELS,
    Shown,
    console_width,
    format_table,
    print_json,
    via,
    write_wrapped,
)
from baocao.errors import BaocaoError, ConfigError, FormSpecError, LockedError, StoreError, UsageError


class _OneLine(logging.Formatter):
    """A log record on the console as one line: the traceback, if any, goes to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        return "baocao: " + record.getMessage().splitlines()[0]


_CONSOLE_LOG = logging.StreamHandler()
_CONSOLE_LOG.setLevel(logging.WARNING)
_CONSOLE_LOG.setFormatter(_OneLine())
_CONSOLE_LOG.addFilter(lambda record: not getattr(record, "file_only", False))
# commands that take, judge, send or serve: what goes wrong in them is kept in the log file
LOGGED_COMMANDS = {"collect", "run-due", "release", "reopen", "ledger", "consolidate", "scorecard", "serve"}


# --- subcommands: each returns an exit code -----------------------------------------------


def cmd_info(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    data = api.info(dep)
    if args.json:
        print_json(data, out)
        return EXIT_OK
    mail = data["mail"]
    out.write(f"Tệp cấu hình : {data['config_file']}\n")
    out.write(f"Cơ quan      : {data['organisation']} ({data['coordinator']})\n")
    out.write(f"Liên hệ      : {data['contact']}\n")
    out.write(f"Múi giờ      : {data['timezone']}\n")
    out.write(f"Biểu mẫu     : {data['form']['id']} phiên bản {data['form']['version']}")
    out.write(f" ({data['form']['fields']} trường) – {data['form_file']}\n")
    out.write(f"Danh mục     : {data['units']} đơn vị – {data['registry_file']}\n")
    out.write(
        f"Thư          : {mail['backend']}; trả lời về {', '.join(mail['reply_to']) or '(không)'}; "
        f"xác nhận tiếp nhận: {'có' if mail['receipts'] else 'không'}; "
        f"đồng gửi văn phòng sở: {'có' if mail['copy_parent'] else 'không'}\n"
    )
    box = data["imap"]
    if box:
        out.write(
            f"Hộp thư nhận : {box['user']} tại {box['host']}:{box['port']} ({box['security']}), "
            f"đọc {box['folder']!r}, thư đã xử lý chuyển vào {box['processed_folder']!r}\n"
        )
    key = data["signing_key"]
    out.write(f"Khóa ký      : mã {key['key_id']} – {key['source']}\n\nThư mục:\n")
    out.write(format_table(list(data["paths"].items()), ["khóa", "đường dẫn"]) + "\n")
    out.write(f"\nCác kỳ báo cáo năm {data['year']}:\n")
    rows = []
    for p in data["periods"]:
        due = "; ".join(f"{api.LEVEL_NAMES.get(k, k)}: {v}" if k else v for k, v in p["due"].items())
        window = p["window"].removeprefix("số liệu ") + ("; có số ước" if p["estimates"] else "")
        rows.append((p["code"], p["name"], window, due))
    out.write(format_table(rows, ["kỳ", "tên", "số liệu", "hạn nộp"], width=console_width()) + "\n")
    return EXIT_OK


def cmd_units(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    data = api.units(dep, args.period)
    if args.json:
        print_json(data, out)
        return EXIT_OK
    rows = [
        (u["code"], u["name"], u["parent"] or "", u["kind"], "có" if u["reports"] else "", u["email"])
        for u in data
    ]
    out.write(format_table(rows, ["mã", "tên", "cấp trên", "loại", "nộp báo cáo", "thư điện tử"]) + "\n")
    return EXIT_OK


def cmd_templates(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    files = api.templates(dep, args.period, unit=args.unit)
    if args.json:
        print_json([{"unit": f.unit, "path": str(f.path), "written": f.written} for f in files], out)
        return EXIT_OK
    for f in files:
        out.write(f"{'đã ghi   ' if f.written else 'không đổi'}  {f.path}\n")
    if files:
        out.write(f"{len(files)} biểu mẫu của kỳ {args.period} ở thư mục {files[0].path.parent}\n")
    return EXIT_OK


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


def cmd_consolidate(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    now = args.now or datetime.now(dep.settings.timezone)
    result = api.consolidate(
        dep,
        args.period,
        unit=args.unit,
        out=Path(args.out) if args.out else None,
        docx=args.docx,
        as_submission=args.as_submission,
        phone=args.phone,
        now=now,
    )
    if args.json:
        print_json(result.to_dict(), out)
        return EXIT_OK
    c = result.counts
    out.write(
        f"Kỳ {result.period}, cấp {result.level}: "
        f"{c.get('reported', 0)}/{c.get('expected', 0)} đơn vị đã báo cáo "
        f"(đúng hạn {c.get('on_time', 0)}, chậm {c.get('late', 0)}, bị trả lại {c.get('rejected', 0)}, "
        f"chưa nộp {c.get('missing', 0)})\n"
    )
    for line in result.headline()[1:]:
        out.write(f"  {line}\n")
    out.write(f"Bảng tổng hợp: {result.xlsx}\nCSV: {result.csv}\n")
    if result.docx:
        out.write(f"Dự thảo báo cáo: {result.docx}\n")
    if result.rollup:
        out.write(f"Tệp gửi cấp trên: {result.rollup}\n")
    for message in result.messages:
        out.write(f"  lưu ý: {message}\n")
    return EXIT_OK


def cmd_scorecard(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    now = args.now or datetime.now(dep.settings.timezone)
    result = api.scorecard(dep, args.year, now=now, out=Path(args.out) if args.out else None)
    if args.json:
        print_json(result.to_dict(), out)
        return EXIT_OK
    from baocao.report.scorecard import SCORE_RULE

    rows = [
        (
            r.code,
            r.name,
            *(r.cells[p.code].label if p.code in r.cells else "—" for p in result.periods),
            "—" if r.on_time_rate is None else f"{round(r.on_time_rate * 100)} %",
            "—" if r.score is None else f"{r.score:g}".replace(".", ","),
            "—" if r.rank is None else str(r.rank),
        )
        for r in result.rows
    ]
    head = ["mã", "đơn vị", *(p.code for p in result.periods), "tỷ lệ đúng hạn", "điểm", "hạng"]
    out.write(format_table(rows, head) + "\n")
    out.write(f"{SCORE_RULE}\nBảng chấm điểm: {result.path}\n")
    if result.message:
        out.write(f"  lưu ý: {result.message}\n")
    return EXIT_OK


def cmd_run_due(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    report = api.run_due(dep, now=args.now, dry_run=args.dry_run)
    if args.json:
        print_json(report.to_dict(), out)
        return EXIT_DATA if report.had_problems else EXIT_OK
    prefix = "(thử, không thay đổi gì) " if report.dry_run else ""
    if report.dry_run:
        out.write(f"{prefix}{len(report.inbox_files)} tệp trong thư mục nộp sẽ được thu nhận\n")
    elif report.collected:
        c = report.collected
        out.write(
            f"Thu nhận: {c.count('accepted')} tiếp nhận, {c.count('rejected')} trả lại, "
            f"{c.count('held')} chờ xác minh, {c.count('duplicate')} trùng\n"
        )
        for source, reason in c.unavailable:
            out.write(f"  chưa đọc được {SOURCE_LABELS.get(source, source)}: {reason}\n")
    for entry in report.planned:
        out.write(
            f"{prefix}thư {entry['kind']:<8} {entry['period']:<8} {entry['unit'] or '':<9} -> {entry['to']}\n"
        )
    for path in report.summaries:
        out.write(f"{prefix}tổng hợp: {path}\n")
    if not report.dry_run:
        out.write(f"Đã gửi {len(report.sent)} thư, chưa gửi được {len(report.failed)}\n")
    for key, error in report.failed:
        out.write(f"  chưa gửi: {key}: {error}\n")
    for key, error in report.uncertain:
        out.write(f"  không chắc đã gửi: {key}: {error}\n")
    for error in report.errors:
        out.write(f"  lỗi: {error}\n")
    for note in report.notes:
        out.write(f"  lưu ý: {note}\n")
    return EXIT_DATA if report.had_problems else EXIT_OK


def cmd_run(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    out.write(f"baocao đang chạy mỗi {dep.settings.schedule.interval_minutes} phút; Ctrl+C để dừng\n")
    out.flush()
    api.run(dep)
    return EXIT_OK


def cmd_demo(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    from baocao.demo import demo

    def say(line: str) -> None:
        out.write(line + "\n")

    result = demo(dep, say=say)
    if args.json:
        print_json(result, out)
    return EXIT_OK


# The web desk: imported when used, so the scheduled commands never load the web framework.


def cmd_serve(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    from baocao.web.serve import serve

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    serve(dep, host=args.host, port=args.port, say=say)
    return EXIT_OK


def _new_password(err: TextIO) -> str:
    """From ``BAOCAO_WEB_PASSWORD``, a line of standard input when it is not a terminal, or typed
    twice at a prompt that does not echo."""
    if os.environ.get("BAOCAO_WEB_PASSWORD"):
        return os.environ["BAOCAO_WEB_PASSWORD"]
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mật khẩu mới: ")
    if getpass.getpass("Nhập lại mật khẩu: ") != first:
        raise UsageError("Hai lần nhập mật khẩu không khớp")
    return first


def cmd_web_user(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    from baocao.web.users import remove_user, set_password

    path = dep.settings.web.users_file
    assert path is not None  # load_config always sets it
    if args.remove:
        if not remove_user(path, args.name):
            raise UsageError(f"Không có tài khoản '{args.name}' trong {path}")
        out.write(f"Đã xóa tài khoản {args.name} ({path})\n")
        return EXIT_OK
    created = set_password(path, args.name, _new_password(sys.stderr))
    out.write(f"{'Đã tạo tài khoản' if created else 'Đã đổi mật khẩu'} {args.name.lower()} ({path})\n")
    return EXIT_OK


def cmd_links(dep: api.Deployment, args: argparse.Namespace, out: TextIO) -> int:
    entries = api.links(dep, args.period, unit=args.unit)
    if args.json:
        print_json(entries, out)
        return EXIT_OK
    out.write(
        format_table(
            [(e["unit"], e["name"], e["email"], e["link"]) for e in entries],
            ["mã", "đơn vị", "thư điện tử", "đường dẫn"],
        )
        + "\n"
    )
    return EXIT_OK


Command = Callable[[api.Deployment, argparse.Namespace, TextIO], int]
COMMANDS: dict[str, tuple[Command, str]] = {
    "info": (cmd_info, "Xem cấu hình đang dùng: tệp, thư mục, biểu mẫu, các kỳ, số đơn vị"),
    "units": (cmd_units, "Liệt kê đơn vị hoạt động trong một kỳ"),
    "templates": (cmd_templates, "Tạo biểu mẫu điền sẵn cho từng đơn vị của một kỳ"),
    "collect": (cmd_collect, "Thu nhận, lưu trữ và kiểm tra các tệp trong thư mục nộp báo cáo"),
    "check": (cmd_check, "Kiểm tra một tệp báo cáo như khi thu nhận, không lưu gì"),
    "status": (cmd_status, "Tình hình nộp báo cáo của các đơn vị trong một kỳ"),
    "release": (cmd_release, "Cho vào một tệp đang chờ xác minh (số tệp in trong baocao status)"),
    "consolidate": (cmd_consolidate, "Lập bảng tổng hợp (Excel, CSV, dự thảo Word) của một kỳ"),
    "scorecard": (cmd_scorecard, "Bảng chấm điểm đúng hạn của các đơn vị trong một năm"),
    "reopen": (cmd_reopen, "Mở lại một kỳ đã khóa sổ cho một đơn vị, để nhận tệp gửi muộn"),
    "ledger": (cmd_ledger, "Dựng lại sổ theo dõi từ thư mục lưu trữ (ledger rebuild)"),
    "run-due": (
        cmd_run_due,
        "Làm mọi việc đến hạn: thu nhận, phản hồi, nhắc hạn, gửi tổng hợp (mỗi thư một lần)",
    ),
    "run": (cmd_run, "Chạy liên tục, gọi run-due theo lịch; dừng bằng Ctrl+C"),
    "demo": (cmd_demo, "Chạy thử toàn bộ quy trình trên bộ dữ liệu mẫu (make demo)"),
    "serve": (cmd_serve, "Chạy trang web nộp báo cáo cho đơn vị và trang theo dõi cho cán bộ tổng hợp"),
    "web-user": (cmd_web_user, "Tạo, đổi mật khẩu hoặc xóa tài khoản trang theo dõi"),
    "links": (cmd_links, "In đường dẫn riêng của từng đơn vị để nộp báo cáo trên web"),
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; return the exit code (streams injectable for tests)."""
    out = cast(TextIO, Shown(out or sys.stdout))
    err = cast(TextIO, Shown(err or sys.stderr))
    _CONSOLE_LOG.setStream(err)  # warnings logged during the command, shown like the rest
    if _CONSOLE_LOG not in logging.getLogger("baocao").handlers:
        logging.getLogger("baocao").addHandler(_CONSOLE_LOG)
    parser = build_parser(COMMANDS)
    try:  # help and usage errors go to the same streams as everything else
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        dep = api.load_deployment(Path(args.config))
        if getattr(args, "now", None) is not None and args.now.tzinfo is None:
            args.now = args.now.replace(tzinfo=dep.settings.timezone)  # a naive --now is local time
        if args.command in LOGGED_COMMANDS:
            api.setup_logging(dep)
        return COMMANDS[args.command][0](dep, args, out)
    except (ConfigError, FormSpecError, UsageError, LockedError, StoreError) as exc:
        if args.debug:
            raise
        err.write(f"baocao: {exc}\n")
        return EXIT_USAGE
    except BaocaoError as exc:
        if args.debug:
            raise
        err.write(f"baocao: {exc}\n")
        return EXIT_DATA
    except BrokenPipeError:
        raise  # the output was closed (`| head`): run() ends quietly
    except Exception as exc:  # a bug: one line for the user, the traceback behind --debug
        if args.debug:
            raise
        logging.getLogger("baocao.cli").error(
            "lỗi không lường trước trong lệnh %s", args.command, exc_info=True, extra={"file_only": True}
        )
        err.write(
            f"baocao: lỗi không lường trước ({type(exc).__name__}: {exc}); "
            "chạy lại với --debug để xem chi tiết\n"
        )
        return EXIT_DATA


def run() -> None:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `baocao status | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
