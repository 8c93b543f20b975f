"""The unit page of the web desk: secret link, template, upload through collect, verdict, history,
check-only, and every refusal — through Starlette's test client against a real ledger."""

from __future__ import annotations

import html
import io
import re
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from filelock import FileLock
from webdesk import (
    PERIOD,
    client_for,
    link,
    text_of,
    upload,
    web_deployment,
    workbook,
)

from baocao import api
from baocao.collect import lock_path
from baocao.errors import ConfigError
from baocao.notify.mailtext import issue_line
from baocao.spec.links import receipt_number, token_matches, unit_link, unit_token
from baocao.store.ledger import Ledger
from baocao.workbook.layout import item_numbers


@pytest.fixture
def dep(tmp_path: Path) -> api.Deployment:
    return web_deployment(tmp_path)


@pytest.fixture
def client(dep):
    with client_for(dep) as c:
        yield c


def recorded(dep) -> list:
    if not dep.settings.path("ledger").exists():
        return []
    with Ledger(dep.settings.path("ledger")) as ledger:
        return ledger.files()


def test_unit_page_opens_by_its_link_and_says_the_deadline(dep, client):
    page = client.get(link(dep))
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Văn phòng Sở Nội vụ" in text and "Quý I năm 2025" in text
    assert "Hạn nộp: trước ngày 10/03/2025 · còn 5 ngày" in text  # as a reminder that day says
    assert 'href="' + link(dep) + '/bieu-mau"' in page.text
    assert "set-cookie" not in page.headers  # a unit's page keeps nothing in the browser


@pytest.mark.parametrize(
    "path",
    [
        "/don-vi/2025-Q1/NV_VP/" + "0" * 32,  # a guessed token
        "/don-vi/2025-Q1/NV_VP/short",
        "/don-vi/2025-Q1/KHONG_CO/{token_of_unknown}",  # a valid token of a unit that does not exist
        "/don-vi/2025-Q9/NV_VP/{token_of_bad_period}",  # a valid token of a period that does not exist
        "/don-vi/2025-Q1/SNV/{token_of_department}",  # a department consolidates; it submits nothing
    ],
)
def test_a_link_that_is_not_a_units_page_is_a_plain_404(dep, client, path):
    key = dep.signing_key
    path = path.format(
        token_of_unknown=unit_token(key, "KHONG_CO", PERIOD),
        token_of_bad_period=unit_token(key, "NV_VP", "2025-Q9"),
        token_of_department=unit_token(key, "SNV", PERIOD),
    )
    page = client.get(path)
    assert page.status_code == 404
    assert "Đường dẫn không đúng hoặc đã hết hiệu lực" in page.text
    assert client.get(path + "/bieu-mau").status_code == 404
    assert upload(client, path, b"x").status_code == 404


def test_rotating_the_secret_revokes_every_link(dep, tmp_path, monkeypatch):
    old = link(dep)
    monkeypatch.setenv("BAOCAO_SECRET", "mot-khoa-moi-sau-khi-doi-khoa-ky")
    rotated = api.load_deployment(dep.settings.config_file)
    with client_for(rotated) as c:
        assert c.get(old).status_code == 404
        assert c.get(link(rotated)).status_code == 200
    assert link(rotated) != old


def test_raising_link_version_revokes_links_and_keeps_templates_valid(dep, tmp_path):
    old = link(dep)
    bumped = web_deployment(
        tmp_path / "v2", extra='[web]\nbase_url = "https://baocao.example"\nlink_version = 2\n'
    )
    assert bumped.signing_key.key_id == dep.signing_key.key_id  # same key: templates still verify
    with client_for(bumped) as c:
        assert c.get(old).status_code == 404
        assert c.get(link(bumped)).status_code == 200
    assert link(bumped) != old


def test_the_desk_refuses_to_start_with_another_key_than_the_ledgers(dep, tmp_path, monkeypatch):
    api.templates(dep, PERIOD, unit="NV_VP")  # the ledger now knows the deployment's key
    monkeypatch.setenv("BAOCAO_SECRET", "mot-khoa-khac-cua-tai-khoan-khac")
    other = api.load_deployment(dep.settings.config_file)
    with pytest.raises(ConfigError, match="khác khóa của sổ theo dõi"):
        client_for(other)


def test_unit_link_token_and_receipt(dep, tmp_path):
    key = dep.signing_key
    token = unit_token(key, "NV_VP", PERIOD)
    assert len(token) == 32 and token_matches(key, "NV_VP", PERIOD, token)
    assert not token_matches(key, "NV_VP", "2025-H1", token)
    assert not token_matches(key, "NV_CCHC", PERIOD, token)
    # a template signature is never a valid link (different purpose in the MAC)
    assert token != key.sign(dep.form.id, dep.form.version, "NV_VP", PERIOD)
    assert unit_link(dep, "NV_VP", PERIOD) == f"https://baocao.example/don-vi/{PERIOD}/NV_VP/{token}"
    assert unit_link(web_deployment(tmp_path / "x", extra=""), "NV_VP", PERIOD) is None
    assert receipt_number(42) == "BN-000042"


def test_template_download_is_the_units_signed_template(dep, client):
    response = client.get(link(dep) + "/bieu-mau")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    meta = {row[0]: row[1] for row in book["_meta"].iter_rows(values_only=True)}
    assert meta["unit"] == "NV_VP" and meta["period"] == PERIOD
    assert meta["signature"] == dep.signing_key.sign(dep.form.id, dep.form.version, "NV_VP", PERIOD)


def test_a_bad_file_is_archived_judged_and_answered_with_its_cells(dep, client, tmp_path):
    content = workbook(dep, tmp_path, tin_bai_cong_ttdt="nhiều")
    response = upload(client, link(dep), content, name="Báo cáo quý I.xlsx")
    assert response.status_code == 303
    assert response.headers["location"].startswith(link(dep) + "?tep=")
    page = client.get(response.headers["location"])
    text = text_of(page.text)
    assert "Chưa đạt: 1 lỗi cần sửa" in text
    assert "'nhiều' không phải số" in html.unescape(page.text)
    # the cell named as the e-mail and the marked-up file name it: once, with the item number
    number = item_numbers(dep.form)["tin_bai_cong_ttdt"]
    assert re.search(rf"Ô [A-Z]+\d+ \(mục {re.escape(number)} – ", html.unescape(page.text))
    [rec] = recorded(dep)
    assert (rec.status, rec.unit, rec.period) == ("rejected", "NV_VP", PERIOD)
    assert rec.inbox_path.startswith(f"web/{PERIOD}/NV_VP/")
    # archive first: the exact bytes are in the archive under the ledger's path
    assert (dep.settings.path("archive") / rec.archive_path).read_bytes() == content
    # the marked-up workbook is offered on the page and downloads
    marked = client.get(f"{link(dep)}/phan-hoi/{rec.id}")
    assert marked.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(marked.content))
    assert any(cell.comment for row in book["BaoCao"].iter_rows() for cell in row)
    assert f"/phan-hoi/{rec.id}" in page.text


def test_a_good_file_gets_a_receipt_and_the_unit_counts_as_on_time(dep, client, tmp_path):
    response = upload(client, link(dep), workbook(dep, tmp_path))
    page = client.get(response.headers["location"])
    [rec] = recorded(dep)
    text = text_of(page.text)
    assert "Đã tiếp nhận báo cáo" in text and f"Số biên nhận: {receipt_number(rec.id)}" in text
    assert "Đúng hạn" in text and "Đang dùng để tổng hợp" in text
    [status] = [s for s in api.status(dep, PERIOD) if s.unit.code == "NV_VP"]
    assert status.status == "on_time"


def test_the_same_file_twice_is_a_duplicate_and_says_so(dep, client, tmp_path):
    content = workbook(dep, tmp_path)
    upload(client, link(dep), content)
    again = client.get(upload(client, link(dep), content).headers["location"])
    assert "Tệp này đã được gửi trước đó" in text_of(again.text)
    assert [r.status for r in recorded(dep)] == ["accepted", "duplicate"]


def test_history_lists_every_file_newest_first(dep, client, tmp_path):
    upload(client, link(dep), workbook(dep, tmp_path, tin_bai_cong_ttdt="nhiều"), name="lan-1.xlsx")
    upload(client, link(dep), workbook(dep, tmp_path), name="lan-2.xlsx")
    text = text_of(client.get(link(dep)).text)
    history = text[text.index("Các lần gửi kỳ này") :]
    assert history.index("lan-2.xlsx") < history.index("lan-1.xlsx")
    assert "Đã tiếp nhận" in history and "Bị trả lại" in history


def test_check_only_judges_the_same_way_and_records_nothing(dep, client, tmp_path):
    bad = workbook(dep, tmp_path, tin_bai_cong_ttdt="nhiều")
    page = upload(client, link(dep), bad, name="thu.xlsx", mode="kiem-tra")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Chỉ kiểm tra – chưa nộp, không lưu gì" in text and "Tệp chưa đạt: 1 lỗi cần sửa" in text
    good = upload(client, link(dep), workbook(dep, tmp_path), mode="kiem-tra")
    assert "Tệp đạt yêu cầu" in text_of(good.text)
    assert recorded(dep) == []
    assert not dep.settings.path("archive").exists() or not any(dep.settings.path("archive").rglob("*.*"))
    # the same verdict as baocao check gives on the same bytes
    saved = tmp_path / "thu.xlsx"
    saved.write_bytes(bad)
    # (worded as the e-mail words it: the cell once, with the template's item number)
    issue = next(iter(api.check(dep, saved).errors))
    assert issue_line(issue, item_numbers(dep.form)) in html.unescape(page.text)


def test_another_units_file_through_this_link_is_shown_as_such(dep, client, tmp_path):
    response = upload(client, link(dep), workbook(dep, tmp_path, unit="DT_TG"))
    page = client.get(response.headers["location"])
    assert "Tệp này là báo cáo của đơn vị DT_TG, không phải của Văn phòng Sở Nội vụ" in text_of(page.text)
    [status] = [s for s in api.status(dep, PERIOD) if s.unit.code == "NV_VP"]
    assert status.status == "missing"


def test_check_only_of_another_units_file_does_not_promise_it_would_count(dep, client, tmp_path):
    """Checking DT_TG's good file on NV_VP's page once said "sẽ được tiếp nhận nếu nộp", while
    submitting it there leaves NV_VP without a report."""
    page = upload(client, link(dep), workbook(dep, tmp_path, unit="DT_TG"), mode="kiem-tra")
    text = text_of(page.text)
    assert "Tệp này là báo cáo của đơn vị DT_TG, không phải của Văn phòng Sở Nội vụ" in text
    assert "sẽ được tiếp nhận" not in text and 'class="card result bad"' in page.text
    assert recorded(dep) == []


def test_check_only_after_the_period_closed_says_the_file_would_not_replace_the_report(dep, client, tmp_path):
    assert upload(client, link(dep), workbook(dep, tmp_path)).status_code == 303
    after = dep.closes_at(dep.period(PERIOD)) + timedelta(hours=1)
    with client_for(dep, now=after) as late:
        text = text_of(upload(late, link(dep), workbook(dep, tmp_path), mode="kiem-tra").text)
    assert "Tệp đạt yêu cầu, nhưng kỳ đã khóa sổ" in text and "sẽ được tiếp nhận" not in text
    # reopened by the coordinator: the unit's next file replaces the report, and the page says so
    api.reopen(dep, PERIOD, "NV_VP", now=after)
    with client_for(dep, now=after) as late:
        text = text_of(upload(late, link(dep), workbook(dep, tmp_path), mode="kiem-tra").text)
    assert "kỳ đã khóa sổ" not in text and "Tệp đạt yêu cầu" in text


def test_a_workbook_that_is_not_the_template_is_called_so_checked_or_submitted(dep, client, tmp_path):
    book = openpyxl.Workbook()
    book.active["A1"] = "Danh sách cán bộ"
    buffer = io.BytesIO()
    book.save(buffer)
    checked = text_of(upload(client, link(dep), buffer.getvalue(), mode="kiem-tra").text)
    assert "Tệp không phải biểu mẫu báo cáo" in checked and "lỗi cần sửa" not in checked
    sent = client.get(upload(client, link(dep), buffer.getvalue()).headers["location"])
    text = text_of(sent.text)
    assert "Tệp không phải biểu mẫu báo cáo" in text and "Hãy tải biểu mẫu ở trang này" in text
    assert "Sửa các ô" not in text and "Tải tệp đã đánh dấu các ô cần sửa" not in text


def test_a_unit_cannot_fetch_another_units_feedback(dep, client, tmp_path):
    other = upload(client, link(dep, "DT_TG"), workbook(dep, tmp_path, unit="DT_TG", tin_bai_cong_ttdt="x"))
    file_id = other.headers["location"].split("tep=")[1].split("#")[0]
    assert client.get(f"{link(dep, 'DT_TG')}/phan-hoi/{file_id}").status_code == 200
    assert client.get(f"{link(dep)}/phan-hoi/{file_id}").status_code == 404
    assert client.get(f"{link(dep)}/phan-hoi/999").status_code == 404


def test_unit_text_is_escaped_on_the_page(dep, client, tmp_path):
    hostile = "<script>alert(1)</script>"
    response = upload(client, link(dep), workbook(dep, tmp_path, tin_bai_cong_ttdt=hostile))
    page = client.get(response.headers["location"])
    assert hostile not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


# --- refusals: nothing is recorded, the page says why ------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("bao-cao.pdf", b"%PDF-1.4", 415, "không phải bảng tính được nhận"),
        ("bao-cao", b"PK\x03\x04", 415, "không phải bảng tính được nhận"),
        ("rong.xlsx", b"", 400, "rỗng (0 byte)"),
    ],
)
def test_uploads_that_are_refused_before_anything_is_kept(dep, client, name, content, status, message):
    page = upload(client, link(dep), content, name=name)
    assert page.status_code == status
    assert message in page.text
    assert recorded(dep) == []


def test_no_file_chosen(dep, client):
    page = client.post(link(dep) + "/nop", data={"che_do": "nop"})
    assert page.status_code == 400 and "Chưa chọn tệp" in page.text


def test_a_malformed_form_is_refused_in_vietnamese(dep, client):
    page = client.post(
        link(dep) + "/nop",
        content=b"--xyz\r\nnot a part\r\n",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert page.status_code == 400 and "không đọc được" in page.text


def test_a_client_path_in_the_file_name_is_only_a_label(dep, client, tmp_path):
    response = upload(client, link(dep), workbook(dep, tmp_path), name="..\\..\\C:\\Windows\\evil.xlsx")
    assert response.status_code == 303
    [rec] = recorded(dep)
    assert rec.original_name == "evil.xlsx" and ".." not in rec.archive_path
    archived = (dep.settings.path("archive") / rec.archive_path).resolve()
    assert archived.is_relative_to(dep.settings.path("archive").resolve())
    assert not (tmp_path.parent / "Windows").exists()


def small_limit(dep: api.Deployment, mb: float = 0.05) -> api.Deployment:
    collect = replace(dep.settings.collect, max_file_mb=mb)
    return replace(dep, settings=replace(dep.settings, collect=collect))


def test_a_declared_size_over_the_limit_is_refused_before_reading(dep):
    dep = small_limit(dep)
    with client_for(dep) as c:
        big = b"x" * 200_000
        page = upload(c, link(dep), big, name="lon.xlsx")
        assert page.status_code == 413 and "Tệp quá lớn" in page.text
    assert recorded(dep) == []


def test_a_chunked_body_over_the_limit_is_refused(dep):
    dep = small_limit(dep)

    def chunks():  # no Content-Length: the limit must hold without one (tests/test_web_server.py
        # shows it cutting a slow upload off on a real server)
        yield b'--b\r\nContent-Disposition: form-data; name="tep"; filename="a.xlsx"\r\n\r\n'
        for _ in range(50):
            yield b"x" * 8192
        yield b"\r\n--b--\r\n"

    with client_for(dep) as c:
        page = c.post(
            link(dep) + "/nop",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
    assert page.status_code == 413 and "Tệp quá lớn" in page.text
    assert recorded(dep) == []


def test_an_upload_while_collect_runs_waits_then_says_it_was_not_taken(tmp_path):
    extra = '[web]\nbase_url = "https://b.example"\nupload_wait_seconds = 0.5\n'
    dep = web_deployment(tmp_path, extra=extra)
    content = workbook(dep, tmp_path)
    lock_path(dep).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_path(dep)), client_for(dep) as c:
        page = upload(c, link(dep), content)
    assert page.status_code == 503
    assert "tệp của bạn CHƯA được nộp" in page.text
    assert recorded(dep) == []


def test_an_upload_the_desk_cannot_archive_says_it_was_not_taken(dep, client, tmp_path):
    """The archive folder gone bad under the desk (a file in its place): the clerk gets the page
    with the reason and what to do, not a bare "Lỗi hệ thống", and nothing is recorded."""
    archive = dep.settings.path("archive")
    if archive.exists():
        shutil.rmtree(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_text("không phải thư mục", encoding="utf-8")
    page = upload(client, link(dep), workbook(dep, tmp_path))
    assert page.status_code == 503
    text = text_of(page.text)
    assert "Tệp của bạn CHƯA được nộp" in text and dep.settings.coordinator in text
    assert "Lỗi hệ thống" not in text
