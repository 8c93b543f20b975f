"""The Vietnamese command line of argparse: the options of every command, and its messages.

argparse writes English ("usage:", "error:", "the following arguments are required"); clerks and
coordinators read Vietnamese, so the parser, its help layout and its error sentences are
translated here, apart from what the commands do once their arguments are parsed.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

from baocao import __version__


def _now(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)  # a naive time is read in the deployment's zone
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"thời điểm '{value}' không đúng dạng ISO, ví dụ 2025-03-08T09:00"
        ) from None


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout with a Vietnamese "usage:"."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "Cách dùng: " if prefix is None else prefix)


# argparse's own error sentences (Python 3.11+) and their Vietnamese: every other message of
# baocao is Vietnamese, so "usage:", "error:" and "the following arguments…" are too
_ERRORS = (
    (r"the following arguments are required: (.+)", r"thiếu tham số bắt buộc: \1"),
    (r"unrecognized arguments: (.+)", r"tham số không dùng được: \1"),
    (
        r"argument (\S+): invalid choice: (.+?) \(choose from (.+)\)",
        r"\1: không có \2; chọn một trong: \3",
    ),
    (r"argument (\S+): expected one argument", r"tham số \1 cần một giá trị"),
    (r"argument (\S+): invalid (\w+) value: (.+)", r"tham số \1: giá trị \3 không hợp lệ"),
    (r"argument (\S+): (.+)", r"tham số \1: \2"),
    (r"ambiguous option: (\S+) could match (.+)", r"tùy chọn \1 không rõ ràng, có thể là: \2"),
)


def translate_error(message: str) -> str:
    for pattern, replacement in _ERRORS:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, replacement, message)
    return message


class VietnameseParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that speaks Vietnamese: its usage line, section titles, help and
    version lines and its error messages (``translate_error``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self.options = self.add_argument_group("tùy chọn")
        self.options.add_argument("-h", "--help", action="help", help="in hướng dẫn này rồi thoát")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: lỗi: {translate_error(message)}\n")


def build_parser(commands: Mapping[str, tuple[object, str]]) -> argparse.ArgumentParser:
    """The ``baocao`` parser: its global options, then a subcommand for each of ``commands``
    (name -> (handler, help line)) with the options that command takes."""
    parser = VietnameseParser(
        prog="baocao",
        description=(
            "Tổng hợp báo cáo định kỳ bằng bảng tính: biểu mẫu, thu nhận, kiểm tra, tổng hợp, gửi thư."
        ),
        epilog="Xem hướng dẫn của từng lệnh: baocao LỆNH --help",
    )
    options = parser.options
    options.add_argument(
        "--config", default="config.toml", metavar="TỆP", help="tệp cấu hình (mặc định ./config.toml)"
    )
    options.add_argument("--debug", action="store_true", help="hiện toàn bộ thông tin lỗi (traceback)")
    options.add_argument(
        "--version", action="version", version=f"baocao {__version__}", help="in phiên bản rồi thoát"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="LỆNH", title="lệnh")
    for name, (_, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        opt = p.options
        opt.add_argument("--json", action="store_true", help="in kết quả dạng JSON")
        if name == "release":
            p.add_argument_group("tham số").add_argument(
                "file_id", type=int, metavar="SỐ", help="số của tệp chờ xác minh"
            )
        if name == "check":
            p.add_argument_group("tham số").add_argument(
                "file", metavar="TỆP", help="tệp bảng tính cần kiểm tra"
            )
        if name == "ledger":
            p.add_argument_group("tham số").add_argument(
                "action", choices=["rebuild"], metavar="rebuild", help="dựng lại sổ từ thư mục lưu trữ"
            )
            opt.add_argument("--force", action="store_true", help="dựng lại cả khi sổ hiện tại vẫn đọc được")
        if name in ("collect", "run-due", "consolidate", "scorecard", "check", "release", "reopen", "ledger"):
            opt.add_argument(
                "--now",
                type=_now,
                metavar="THỜI_ĐIỂM",
                help="đặt đồng hồ cho cả lần chạy (ISO), để chạy lại một kỳ",
            )
        if name == "collect":
            opt.add_argument(
                "--source",
                choices=["folder", "imap"],
                metavar="NGUỒN",
                help="chỉ thu nhận từ một nguồn: folder (thư mục nộp) hoặc imap (hộp thư); mặc định cả hai",
            )
        if name == "run-due":
            opt.add_argument(
                "--dry-run", action="store_true", help="chỉ in những việc sẽ làm, không thay đổi gì"
            )
        if name == "scorecard":
            opt.add_argument("--year", type=int, required=True, metavar="NĂM", help="năm, ví dụ 2025")
            opt.add_argument("--out", metavar="TỆP", help="tệp kết quả (mặc định trong thư mục output)")
        if name == "consolidate":
            opt.add_argument("--unit", metavar="MÃ", help="chỉ tổng hợp khối của một sở/ban (mã đơn vị)")
            opt.add_argument(
                "--out",
                metavar="TỆP",
                help="tên tệp bảng tổng hợp .xlsx hoặc một thư mục (CSV, Word ghi cạnh nó, cùng tên)",
            )
            opt.add_argument("--docx", action="store_true", help="lập thêm dự thảo báo cáo bằng Word")
            opt.add_argument(
                "--as-submission", action="store_true", help="lập tệp báo cáo của sở để gửi cấp trên"
            )
            opt.add_argument("--phone", metavar="SỐ", help="số điện thoại ghi vào tệp gửi cấp trên")
        if name in ("units", "templates", "status", "consolidate", "reopen"):
            opt.add_argument("--period", required=True, metavar="KỲ", help="kỳ báo cáo, ví dụ 2025-Q1")
        if name == "templates":
            opt.add_argument("--unit", metavar="MÃ", help="chỉ tạo cho một đơn vị (mã đơn vị)")
        if name == "reopen":
            opt.add_argument("--unit", required=True, metavar="MÃ", help="mã đơn vị được nộp lại")
        if name == "serve":
            opt.add_argument(
                "--host", metavar="ĐỊA_CHỈ", help="địa chỉ lắng nghe (mặc định [web] host, 127.0.0.1)"
            )
            opt.add_argument("--port", type=int, metavar="CỔNG", help="cổng (mặc định [web] port, 8080)")
        if name == "web-user":
            p.add_argument_group("tham số").add_argument(
                "name", metavar="TÊN", help="tên tài khoản (chữ thường không dấu)"
            )
            opt.add_argument("--remove", action="store_true", help="xóa tài khoản này")
        if name == "links":
            opt.add_argument("--period", required=True, metavar="KỲ", help="kỳ báo cáo, ví dụ 2025-Q1")
            opt.add_argument("--unit", metavar="MÃ", help="chỉ in cho một đơn vị (mã đơn vị)")
    return parser
