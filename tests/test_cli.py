"""The command line: thin over the library, JSON equal to the library's result, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime

from conftest import REPO, write_config
from helpers import inbox, make_submission, stored_files

from baocao import api
from baocao.cli import COMMANDS, main


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_info_json_has_paths_form_and_periods(config_file, deployment):
    code, out, _ = run("--config", str(config_file), "info", "--json")
    assert code == 0
    data = json.loads(out)
    assert data == json.loads(json.dumps(api.info(deployment), default=str))
    assert set(data["paths"]) >= {"templates", "inbox", "archive", "feedback", "output", "ledger", "outbox"}
    assert all(data["paths"][k].startswith(str(config_file.parent)) for k in data["paths"])
    assert data["form"] == data["form"] | {"id": "cchc-tuyen-truyen", "version": "2025.1"}
    assert [p["kind"] for p in data["periods"]] == ["Q1", "H1", "Q3", "Y"]


def test_info_table_names_the_config_file_and_each_period_of_this_year(config_file):
    code, out, _ = run("--config", str(config_file), "info")
    year = datetime.now().year
    assert code == 0 and str(config_file) in out
    assert f"Các kỳ báo cáo năm {year}:" in out
    assert f"{year}-Q1  Quý I năm {year}" in out and "{year}" not in out  # names, not templates
    assert f"từ 01/01/{year} đến 31/03/{year}; có số ước  trước ngày 10/03/{year}" in out


def test_info_shows_the_deadline_of_each_level(tmp_path):
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        'due_before = "10/03"', 'due_before = { department = "05/03", province = "10/03" }', 1
    )
    config.write_text(text, encoding="utf-8")
    _, out, _ = run("--config", str(config), "info")
    year = datetime.now().year
    due = f"đơn vị nộp về sở: trước ngày 05/03/{year}; sở nộp về tỉnh: trước ngày 10/03/{year}"
    assert due in " ".join(out.split())


def test_units_json_lists_code_name_parent_email_kind(config_file):
    code, out, _ = run("--config", str(config_file), "units", "--period", "2025-Q1", "--json")
    assert code == 0
    units = json.loads(out)
    dt_tg = next(u for u in units if u["code"] == "DT_TG")
    assert dt_tg == dt_tg | {
        "name": "Phòng Quản lý tôn giáo",
        "parent": "SDTTG",
        "kind": "unit",
        "email": "tongiao@sdttg.langson.example",
    }
    assert "LD_CDN" not in {u["code"] for u in units}


def test_templates_prints_where_they_are(config_file):
    code, out, _ = run("--config", str(config_file), "templates", "--period", "2025-Q1")
    assert code == 0 and "9 biểu mẫu của kỳ 2025-Q1" in out


def test_usage_and_config_errors_exit_2_with_one_line(tmp_path, config_file):
    code, _, err = run("--config", str(tmp_path / "none.toml"), "info")
    assert code == 2 and err.startswith("baocao: Không tìm thấy tệp cấu hình") and err.count("\n") == 1
    code, _, err = run("--config", str(config_file), "units", "--period", "2025-Q7")
    assert code == 2 and "2025-Q7" in err
    code, _, err = run("--config", str(config_file), "khong-co-lenh")
    assert code == 2


ENGLISH = ("usage:", "options:", "positional arguments", "show this help", "show program's", "error:")


def check_help(text: str, command: str | None) -> None:
    assert text.startswith(f"Cách dùng: baocao{' ' + command if command else ''} [-h]")
    assert "tùy chọn:\n  -h, --help" in text and "in hướng dẫn này rồi thoát" in text
    assert COMMANDS[command][1] in " ".join(text.split()) if command else "lệnh:\n  LỆNH" in text
    assert not [word for word in ENGLISH if word in text]


def test_help_is_vietnamese_like_every_other_message():
    done = subprocess.run(
        [sys.executable, "-m", "baocao", "--help"], capture_output=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0 and done.stderr == b""
    check_help(done.stdout.decode("utf-8"), None)
    for command in COMMANDS:  # the same parser, run in-process for each subcommand
        code, out, err = run(command, "--help")
        assert code == 0 and err == "", command
        check_help(out, command)


def test_argparse_errors_are_vietnamese_too():
    done = subprocess.run(
        [sys.executable, "-m", "baocao", "status"], capture_output=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.decode("utf-8").splitlines() == [
        "Cách dùng: baocao status [-h] [--json] --period KỲ",
        "baocao status: lỗi: thiếu tham số bắt buộc: --period",
    ]
    code, _, err = run("run-due", "--now", "hôm qua")
    assert code == 2 and "lỗi: tham số --now: thời điểm 'hôm qua' không đúng dạng ISO" in err


def test_status_fits_a_120_column_console(config_file, deployment, tmp_path, monkeypatch):
    from helpers import make_submission

    box = deployment.settings.path("inbox")
    make_submission(
        deployment, "NV_TCBC", "2025-Q1", box / "a.xlsx", tin_mang_xa_hoi="12 tin", luot_du_thi=5, cuoc_thi=0
    )
    api.collect(deployment, now=datetime(2025, 3, 8, 9, 0, tzinfo=deployment.settings.timezone))
    monkeypatch.setenv("COLUMNS", "120")
    code, out, _ = run("--config", str(config_file), "status", "--period", "2025-Q1")
    lines = out.splitlines()
    assert code == 0 and max(len(line) for line in lines) <= 120
    row = next(i for i, line in enumerate(lines) if line.startswith("NV_TCBC"))
    assert "Phòng Tổ chức, biên chế và Tổ chứ…" in lines[row]  # a long name is cut, visibly
    note = " ".join(line[lines[0].index("ghi chú") :].strip() for line in lines[row : row + 6])
    assert "'12 tin' không phải số" in note  # the reason wraps under its column, whole


def test_python_dash_m_runs_the_same_command(config_file):
    done = subprocess.run(
        [sys.executable, "-m", "baocao", "--config", str(config_file), "info", "--json"],
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout.decode("utf-8"))["form"]["id"] == "cchc-tuyen-truyen"


def test_consolidate_and_scorecard_json_equal_the_library(config_file, deployment):
    from datetime import datetime

    now = datetime(2025, 3, 12, 9, 0, tzinfo=deployment.settings.timezone)
    out = io.StringIO()
    assert (
        main(
            [
                "--config",
                str(config_file),
                "consolidate",
                "--period",
                "2025-Q1",
                "--now",
                "2025-03-12T09:00",
                "--json",
            ],
            out=out,
        )
        == 0
    )
    assert json.loads(out.getvalue()) == json.loads(
        json.dumps(api.consolidate(deployment, "2025-Q1", now=now).to_dict(), default=str)
    )
    out = io.StringIO()
    assert (
        main(
            [
                "--config",
                str(config_file),
                "scorecard",
                "--year",
                "2025",
                "--now",
                "2025-03-12T09:00",
                "--json",
            ],
            out=out,
        )
        == 0
    )
    data = json.loads(out.getvalue())
    assert data == json.loads(json.dumps(api.scorecard(deployment, 2025, now=now).to_dict(), default=str))
    assert {u["periods"]["2025-Q1"]["status"] for u in data["units"]} == {"missing"}


def test_scripts_run_without_installing(config_file):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "run_due.py"), str(config_file)],
        capture_output=True,
        cwd=config_file.parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "Đã gửi" in done.stdout.decode("utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "baocao_cli.py"),
            "--config",
            str(config_file),
            "info",
            "--json",
        ],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0 and json.loads(done.stdout)["form"]["version"] == "2025.1"


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise():
    from baocao.cli import _progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    plain, tty = io.StringIO(), Terminal()
    for done in range(1, 121):
        _progress(plain)(done, 120, "x.xlsx")
        _progress(tty)(done, 120, "x.xlsx")
    assert plain.getvalue().splitlines() == ["đã đọc 50/120 tệp", "đã đọc 100/120 tệp", "đã đọc 120/120 tệp"]
    assert "\r[" in tty.getvalue() and tty.getvalue().endswith("120/120\n")


def test_check_judges_one_file_like_collect_and_records_nothing(config_file, deployment, tmp_path):

    bad = make_submission(
        deployment, "DT_TG", "2025-Q1", tmp_path / "bad.xlsx", luot_tap_huan=35, lop_tap_huan=0
    )
    out = io.StringIO()
    code = main(
        ["--config", str(config_file), "check", str(bad), "--now", "2025-03-08T09:00", "--json"], out=out
    )
    data = json.loads(out.getvalue())
    assert code == 1 and data["accepted"] is False and data["unit"] == "DT_TG"
    assert data["issues"][0]["message"].startswith(
        "Ô D27 (Số lượt người tham gia tập huấn, bồi dưỡng): có 35"
    )
    good = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "good.xlsx")
    out = io.StringIO()
    assert main(["--config", str(config_file), "check", str(good), "--now", "2025-03-08T09:00"], out=out) == 0
    assert "ĐẠT: sẽ được tiếp nhận" in out.getvalue()
    # the ledger exists (``templates`` records the signing key's id) but holds no file
    assert stored_files(deployment) == []
    assert bad.exists()


def test_exit_codes_for_errors_are_0_1_or_2_as_the_readme_says(tmp_path, config_file, deployment):
    assert run("--config", str(config_file), "collect", "--now", "2025-03-08T09:00")[0] == 0  # nothing to do
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx", nguoi_lap=None)
    assert run("--config", str(config_file), "collect", "--now", "2025-03-08T09:00")[0] == 1  # rejected
    assert run("--config", str(config_file), "status", "--period", "2025-Q1")[0] == 0
    assert run("--config", str(config_file), "status", "--period", "2025-X9")[0] == 2  # unknown period
    assert run("--config", str(config_file), "status")[0] == 2  # a required option missing
    bad = tmp_path / "bad" / "config.toml"
    bad.parent.mkdir()
    bad.write_text("form = [", encoding="utf-8")
    assert run("--config", str(bad), "collect")[0] == 2  # broken config.toml
    deployment.settings.path("ledger").write_bytes(b"not a ledger" * 400)
    for suffix in ("-wal", "-shm"):
        deployment.settings.path("ledger").with_name("ledger.sqlite" + suffix).unlink(missing_ok=True)
    code, _, err = run("--config", str(config_file), "collect")
    assert code == 2 and "bị hỏng" in err  # a damaged ledger: the coordinator must act


def test_check_of_a_path_that_is_not_a_file_says_so(config_file, tmp_path):
    """A mistyped path is the coordinator's mistake (exit 2), not a unit's file "đang bị khoá
    hoặc không có quyền đọc"; a folder is named as a folder."""
    code, _, err = run("--config", str(config_file), "check", str(tmp_path / "khong-co.xlsx"))
    assert code == 2 and "Không tìm thấy tệp" in err and "khoá" not in err
    code, _, err = run("--config", str(config_file), "check", str(tmp_path))
    assert code == 2 and "là một thư mục" in err


def test_an_output_or_templates_folder_that_cannot_be_written_is_named_in_vietnamese(config_file, tmp_path):
    """Not "lỗi không lường trước (FileNotFoundError …)": the folder and what to check."""
    blocker = tmp_path / "la-tep"
    blocker.write_text("a file where a folder should be")
    code, _, err = run(
        "--config", str(config_file), "consolidate", "--period", "2025-Q1", "--out", str(blocker / "th.xlsx")
    )
    assert code == 1 and f"Không ghi được vào thư mục {blocker}" in err and "không lường trước" not in err
    text = config_file.read_text(encoding="utf-8")
    paths = f'\n[paths]\ntemplates = "{blocker.as_posix()}/mau"\n'
    config_file.write_text(text + paths, encoding="utf-8")
    code, _, err = run("--config", str(config_file), "templates", "--period", "2025-Q1")
    assert code == 1 and "Không ghi được vào thư mục" in err and "không lường trước" not in err
