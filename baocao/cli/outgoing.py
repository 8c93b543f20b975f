"""The commands about what the deployment gives out and sends: its settings and units, the
templates and web links units fill in, summaries and scorecards, the scheduled run, the demo,
and the web desk (serve, web-user).

Each makes one call to ``baocao.api`` (or the demo, or the web desk, imported when used so that
the scheduled commands never load the web framework), prints the result as text or
``--json``, and returns an exit code.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from baocao import api
from baocao.cli.show import (
    EXIT_DATA,
    EXIT_OK,
    SOURCE_LABELS,
    console_width,
    format_table,
    print_json,
)
from baocao.errors import UsageError


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
    for problem in data["registry_problems"]:
        out.write(f"  Cần sửa    : {problem}\n")
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
