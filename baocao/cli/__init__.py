"""The ``baocao`` command: a thin argparse layer over ``baocao.api``.

Each subcommand parses its arguments, makes one library call and prints the result as a table
or (``--json``) as JSON. Library exceptions become one readable line and an exit code:
0 all went well, 1 the data had problems, 2 usage or configuration errors. ``--debug`` shows
the traceback instead.

This module ties the package together: the command table, the console's log handler, ``main``
and ``run``. The commands live in ``incoming`` (files units send: collect, check, status…) and
``outgoing`` (what goes out: templates, summaries, the scheduled run, the web desk); what they
print goes through ``show``; ``parser`` is the Vietnamese argparse layer. Everything it imports
is light: libraries such as openpyxl load only inside the library calls that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO, cast

from baocao import api
from baocao.cli.incoming import _progress as _progress  # tests/test_cli.py imports it from here
from baocao.cli.incoming import cmd_check, cmd_collect, cmd_ledger, cmd_release, cmd_reopen, cmd_status
from baocao.cli.outgoing import (
    cmd_consolidate,
    cmd_demo,
    cmd_info,
    cmd_links,
    cmd_run,
    cmd_run_due,
    cmd_scorecard,
    cmd_serve,
    cmd_templates,
    cmd_units,
    cmd_web_user,
)
from baocao.cli.parser import build_parser
from baocao.cli.show import EXIT_DATA, EXIT_OK, EXIT_USAGE, Shown
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
