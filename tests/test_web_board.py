"""The coordinator board: login (argon2 accounts, CSRF, rate limit, no open redirect), the period's
status per unit, filters, downloads, and the confirmed, recorded resend action."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from webdesk import (
    PASSWORD,
    PERIOD,
    TZ,
    USER,
    add_user,
    client_for,
    csrf_of,
    link,
    sign_in,
    text_of,
    upload,
    web_deployment,
    workbook,
)

from baocao import api
from baocao.errors import ConfigError
from baocao.store.ledger import Ledger
from baocao.web import auth
from baocao.web.users import load_users, remove_user, set_password, verify


@pytest.fixture
def dep(tmp_path: Path) -> api.Deployment:
    dep = web_deployment(tmp_path)
    add_user(dep)
    return dep


@pytest.fixture
def client(dep):
    with client_for(dep) as c:
        yield c


@pytest.fixture
def signed_in(dep, client):
    assert sign_in(client).status_code == 303
    return client


def test_the_board_asks_for_a_login_and_comes_back_after_it(client):
    response = client.get("/dieu-phoi?ky=2025-Q1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dieu-phoi/dang-nhap?tiep=/dieu-phoi?ky=2025-Q1"
    done = sign_in(client, next_path="/dieu-phoi?ky=2025-Q1")
    assert done.headers["location"] == "/dieu-phoi?ky=2025-Q1"
    assert client.get("/dieu-phoi?ky=2025-Q1").status_code == 200


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example", "/dieu-phoi//evil.example", "/dieu-phoi\\x", "/x", 5],
)
def test_where_login_may_lead_is_a_board_path_only(target):
    assert auth.next_path(target) == "/dieu-phoi"
    assert auth.next_path("/dieu-phoi/lien-ket?ky=2025-Q1") == "/dieu-phoi/lien-ket?ky=2025-Q1"


def test_login_never_redirects_outside_the_board(client):
    assert sign_in(client, next_path="https://evil.example/").headers["location"] == "/dieu-phoi"


def test_a_wrong_password_is_refused_and_many_are_throttled(dep, client):
    for _ in range(dep.settings.web.login_attempts):
        page = sign_in(client, password="sai-mat-khau-roi")
        assert page.status_code == 401 and "không đúng" in page.text
    # now even the right password waits: the throttle does not tell a guess that worked
    blocked = sign_in(client)
    assert blocked.status_code == 429 and "quá nhiều lần" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    assert client.get("/dieu-phoi", follow_redirects=False).status_code == 303


def test_an_unknown_name_is_refused_like_a_wrong_password(client):
    page = sign_in(client, name="khong-co-ai")
    assert page.status_code == 401 and "Tên tài khoản hoặc mật khẩu không đúng" in page.text


def test_login_without_the_forms_token_is_refused(client):
    client.get("/dieu-phoi/dang-nhap")
    page = client.post(
        "/dieu-phoi/dang-nhap", data={"ten": USER, "mat_khau": PASSWORD}, follow_redirects=False
    )
    assert page.status_code == 403
    assert client.get("/dieu-phoi", follow_redirects=False).status_code == 303


def test_no_accounts_yet_says_how_to_make_one(tmp_path):
    with client_for(web_deployment(tmp_path / "empty")) as c:
        page = c.get("/dieu-phoi/dang-nhap")
    assert page.status_code == 503 and "baocao web-user" in page.text


def test_session_cookie_is_secure_httponly_and_host_bound_behind_https(client):
    response = sign_in(client)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-baocao=")
    assert "secure" in cookie.lower() and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_without_https_the_cookie_is_not_secure_and_the_login_page_warns(tmp_path):
    dep = web_deployment(tmp_path, extra='[web]\nbase_url = "http://192.0.2.10:8080"\n')
    add_user(dep)
    with client_for(dep, https=False) as c:
        response = sign_in(c)
        assert response.headers["set-cookie"].startswith("baocao_phien=")
        assert "secure" not in response.headers["set-cookie"].lower()
        c.cookies.clear()
        assert "không được mã hóa" in c.get("/dieu-phoi/dang-nhap").text


def test_logout_needs_the_token_and_ends_the_session(signed_in):
    board = signed_in.get("/dieu-phoi")
    signed_in.post("/dieu-phoi/dang-xuat", data={"csrf": "gia-mao"})
    assert signed_in.get("/dieu-phoi", follow_redirects=False).status_code == 200
    signed_in.post("/dieu-phoi/dang-xuat", data={"csrf": csrf_of(board.text)})
    assert signed_in.get("/dieu-phoi", follow_redirects=False).status_code == 303


def test_a_removed_account_is_out_at_its_next_request(dep, signed_in):
    assert signed_in.get("/dieu-phoi", follow_redirects=False).status_code == 200
    assert dep.settings.web.users_file is not None
    remove_user(dep.settings.web.users_file, USER)
    assert signed_in.get("/dieu-phoi", follow_redirects=False).status_code == 303


def test_board_shows_every_unit_with_its_status_and_days_overdue(tmp_path):
    dep = web_deployment(tmp_path)
    add_user(dep)
    with client_for(dep) as before:  # 5 March: units upload on time
        upload(before, link(dep, "NV_VP"), workbook(dep, tmp_path, unit="NV_VP"))
        upload(before, link(dep, "DT_TG"), workbook(dep, tmp_path, unit="DT_TG", tin_bai_cong_ttdt="x"))
    with client_for(dep, now=datetime(2025, 3, 12, 9, 0, tzinfo=TZ)) as late:  # three days after 9 March
        sign_in(late)
        page = late.get("/dieu-phoi?ky=2025-Q1")
    assert page.status_code == 200
    rows = {
        code: text_of(row)
        for code, row in re.findall(r'<tr class="row-\w+" id="dv-(\w+)">(.*?)</tr>', page.text, re.S)
    }
    assert set(rows) == {u.code for u in dep.registry.reporting_units(dep.period(PERIOD))}
    assert "Đúng hạn" in rows["NV_VP"] and "quá" not in rows["NV_VP"]
    assert "Bị trả lại" in rows["DT_TG"] and "quá 3 ngày" in rows["DT_TG"]
    assert "Chưa nộp" in rows["DT_CSDT"] and "quá 3 ngày" in rows["DT_CSDT"]
    assert 'class="row-on_time" id="dv-NV_VP"' in page.text
    counts = text_of(page.text)
    assert "Đúng hạn 1" in counts and "Bị trả lại 1" in counts
    # the summary's own first sentence, as consolidate prints it
    assert "Đã tiếp nhận báo cáo của 1/9 đơn vị" in counts


def test_department_filter_shows_only_its_units(signed_in, dep):
    page = signed_in.get("/dieu-phoi?ky=2025-Q1&so=SDTTG")
    codes = set(re.findall(r'id="dv-(\w+)"', page.text))
    assert codes == {"DT_VP", "DT_CSDT", "DT_TG", "DT_TTRA"}


def test_looking_creates_no_ledger(dep, signed_in):
    """Before the first collect, the board, a unit page and the downloads read nothing into being:
    a ledger that appears by itself would hide a lost one (the archive is the source of truth)."""
    assert signed_in.get("/dieu-phoi?ky=2025-Q1").status_code == 200
    assert signed_in.get(link(dep)).status_code == 200
    assert signed_in.get("/dieu-phoi/tong-hop/2025-Q1.xlsx").status_code == 400
    assert signed_in.get("/dieu-phoi/cham-diem/2025").status_code == 400
    assert not dep.settings.path("ledger").exists()


def test_unknown_period_falls_back_to_the_current_one(signed_in):
    page = signed_in.get("/dieu-phoi?ky=<b>")
    assert page.status_code == 200 and "<b>" not in page.text


def test_latest_file_and_feedback_download_for_the_coordinator(dep, tmp_path):
    with client_for(dep) as c:
        content = workbook(dep, tmp_path, tin_bai_cong_ttdt="x")
        upload(c, link(dep), content, name="Báo cáo.xlsx")
        sign_in(c)
        [rec] = api.period_files(dep, PERIOD)
        original = c.get(f"/dieu-phoi/tep/{rec.id}")
        assert original.status_code == 200 and original.content == content
        assert "filename*=utf-8''" in original.headers["content-disposition"]
        marked = c.get(f"/dieu-phoi/phan-hoi/{rec.id}")
        assert marked.status_code == 200 and openpyxl.load_workbook(io.BytesIO(marked.content))
        assert c.get("/dieu-phoi/tep/999").status_code == 404
        assert c.get("/dieu-phoi/phan-hoi/999").status_code == 404
        c.cookies.clear()
        assert c.get(f"/dieu-phoi/tep/{rec.id}", follow_redirects=False).status_code == 303


def test_summary_downloads_in_three_forms_and_scorecard(dep, tmp_path):
    with client_for(dep) as c:
        upload(c, link(dep), workbook(dep, tmp_path))
        sign_in(c)
        xlsx = c.get("/dieu-phoi/tong-hop/2025-Q1.xlsx")
        assert xlsx.status_code == 200 and openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames
        csv = c.get("/dieu-phoi/tong-hop/2025-Q1.csv")
        assert csv.status_code == 200 and "NV_VP" in csv.content.decode("utf-8-sig")
        word = c.get("/dieu-phoi/tong-hop/2025-Q1.docx")
        assert word.status_code == 200 and docx.Document(io.BytesIO(word.content)).paragraphs
        assert c.get("/dieu-phoi/tong-hop/2025-Q1.pdf").status_code == 404
        assert c.get("/dieu-phoi/tong-hop/2025-Q9.xlsx").status_code == 400
        # a download writes nothing: the output folder the scheduled job mails from is untouched
        assert not dep.settings.path("output").exists()
        page = c.get("/dieu-phoi/cham-diem/2025")
        assert page.status_code == 200 and "Văn phòng Sở Nội vụ" in page.text
        book = c.get("/dieu-phoi/cham-diem/2025.xlsx")
        assert book.status_code == 200 and openpyxl.load_workbook(io.BytesIO(book.content))
        assert c.get("/dieu-phoi/cham-diem/1999").status_code == 404


def test_links_page_lists_every_units_link(signed_in, dep):
    page = signed_in.get("/dieu-phoi/lien-ket?ky=2025-Q1")
    assert page.status_code == 200
    for unit in dep.registry.reporting_units(dep.period(PERIOD)):
        assert f"https://baocao.example{link(dep, unit.code)}" in page.text


def test_resend_feedback_asks_for_confirmation_needs_the_token_and_is_recorded(dep, tmp_path):
    with client_for(dep) as c:
        upload(c, link(dep), workbook(dep, tmp_path, tin_bai_cong_ttdt="x"))
        sign_in(c)
        [rec] = api.period_files(dep, PERIOD)
        board = c.get("/dieu-phoi?ky=2025-Q1")
        assert (
            f'href="/dieu-phoi/gui-lai/{rec.id}"' in board.text
        )  # a link to confirm, not a button that acts
        confirm = c.get(f"/dieu-phoi/gui-lai/{rec.id}")
        assert confirm.status_code == 200 and "Xác nhận gửi lại" in confirm.text
        assert "vp@snv.langson.example" in confirm.text  # who will get it, before it is sent
        forged = c.post(f"/dieu-phoi/gui-lai/{rec.id}", data={"csrf": "gia-mao"})
        assert forged.status_code == 403
        with Ledger(dep.settings.path("ledger")) as ledger:
            assert ledger.messages() == [] and ledger.actions() == []
        done = c.post(
            f"/dieu-phoi/gui-lai/{rec.id}", data={"csrf": csrf_of(confirm.text)}, follow_redirects=False
        )
        assert done.status_code == 303
        flash = c.get(done.headers["location"])
        assert "Đã gửi lại phản hồi" in flash.text
    with Ledger(dep.settings.path("ledger")) as ledger:
        [action] = ledger.actions()
        sent = [m for m in ledger.messages() if m.file_id == rec.id]
    assert (action.actor, action.action, action.unit, action.file_id) == (
        USER,
        "resend_feedback",
        "NV_VP",
        rec.id,
    )
    assert sent and all("gui-lai-1" in m.key and m.status == "sent" for m in sent)
    assert list(dep.settings.path("outbox").glob("*.eml"))
    assert "gửi lại phản hồi" in text_of(flash.text)  # the action log on the board


def test_reopen_is_offered_after_the_period_closes_confirmed_and_recorded(dep, tmp_path):
    """Before the final summary nothing needs reopening; after it, a unit's late correction is kept
    (locked) until a coordinator reopens the period for that unit, which the ledger records."""
    with client_for(dep) as before:  # 5 March: the unit's accepted report
        upload(before, link(dep), workbook(dep, tmp_path))
        sign_in(before)
        assert "/dieu-phoi/mo-lai" not in before.get("/dieu-phoi?ky=2025-Q1").text
        early = before.get("/dieu-phoi/mo-lai?ky=2025-Q1&don_vi=NV_VP")
        assert early.status_code == 400 and "chưa khóa sổ" in early.text
    after = datetime(2025, 3, 12, 9, 0, tzinfo=TZ)  # the final summary (10 March 08:00) has passed
    with client_for(dep, now=after) as c:
        late = upload(c, link(dep), workbook(dep, tmp_path, tin_bai_cong_ttdt=40), name="ban-sua.xlsx")
        assert "Kỳ đã khóa sổ: tệp được giữ lại" in text_of(c.get(late.headers["location"]).text)
        sign_in(c)
        board = c.get("/dieu-phoi?ky=2025-Q1")
        assert "Tệp gửi sau khi khóa sổ (1)" in text_of(board.text) and "ban-sua.xlsx" in board.text
        assert 'href="/dieu-phoi/mo-lai?ky=2025-Q1&amp;don_vi=NV_VP"' in board.text
        confirm = c.get("/dieu-phoi/mo-lai?ky=2025-Q1&don_vi=NV_VP")
        assert confirm.status_code == 200 and "Xác nhận mở lại" in confirm.text
        form = {"ky": "2025-Q1", "don_vi": "NV_VP"}
        assert c.post("/dieu-phoi/mo-lai", data={**form, "csrf": "gia-mao"}).status_code == 403
        assert api.actions(dep) == []
        done = c.post(
            "/dieu-phoi/mo-lai", data={**form, "csrf": csrf_of(confirm.text)}, follow_redirects=False
        )
        assert done.status_code == 303
        assert "Đã mở lại kỳ Quý I năm 2025 cho đơn vị NV_VP" in c.get(done.headers["location"]).text
        assert c.get("/dieu-phoi/mo-lai?ky=2025-Q1&don_vi=KHONG_CO").status_code == 404
    [action] = api.actions(dep)
    assert (action.actor, action.action, action.period, action.unit) == (USER, "reopen", PERIOD, "NV_VP")
    api.collect(dep, now=after)  # the kept correction is judged again and now replaces the report
    [status] = [s for s in api.status(dep, PERIOD) if s.unit.code == "NV_VP"]
    assert status.submission is not None and status.submission.values["tin_bai_cong_ttdt"] == 40


def test_resend_of_a_file_without_verdict_is_refused(signed_in):
    assert signed_in.get("/dieu-phoi/gui-lai/999").status_code == 404


# --- accounts -------------------------------------------------------------------------------


def test_users_file_holds_argon2_hashes_only(tmp_path):
    path = tmp_path / "tai-khoan.txt"
    assert set_password(path, "CanBo", "mot-mat-khau-dai") is True
    text = path.read_text(encoding="utf-8")
    assert "mot-mat-khau-dai" not in text and "canbo:$argon2id$" in text
    assert verify(load_users(path), "canbo", "mot-mat-khau-dai")
    assert set_password(path, "canbo", "mat-khau-moi-dai") is False
    assert not verify(load_users(path), "canbo", "mot-mat-khau-dai")  # the old one no longer works


def test_users_file_refuses_short_passwords_bad_names_and_bad_lines(tmp_path):
    from baocao.errors import UsageError

    path = tmp_path / "tai-khoan.txt"
    with pytest.raises(UsageError, match="ít nhất 10"):
        set_password(path, "canbo", "ngan")
    with pytest.raises(UsageError, match="không hợp lệ"):
        set_password(path, "cán bộ", "mot-mat-khau-dai")
    path.write_text("# tài khoản\ncanbo:matkhau-ro\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="dòng 2"):
        load_users(path)
