"""The web desk in a real browser: Debian's chromium driven by Playwright against a real server.

A clerk on a phone opens the unit's link, downloads the template, uploads a file with a mistake,
sees the cell to fix, downloads the marked-up workbook, uploads the corrected file and sees the
receipt; a coordinator signs in at a desk and sees the unit turn green. Screenshots of each step
go to ``tmp_path`` (and, when ``BAOCAO_SCREENSHOTS`` names a folder, are copied there to be looked
at). Never a downloaded browser: only ``/usr/bin/chromium`` (``.ci/run`` installs it as root).
"""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import openpyxl
import pytest
from helpers import fill_workbook, valid_values
from webdesk import BEFORE_DEADLINE, PASSWORD, PERIOD, USER, add_user, link, live_server, web_deployment

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (apt-get install -y chromium); .ci/run installs it in CI",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture
def server(tmp_path):
    """The desk of a fresh deployment served by uvicorn on a free port of 127.0.0.1."""
    dep = web_deployment(tmp_path / "dep", extra='[web]\nbase_url = "http://127.0.0.1"\n')
    add_user(dep)
    with live_server(dep, BEFORE_DEADLINE) as url:
        yield dep, url


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield chromium
        chromium.close()


class Shots:
    """Screenshots of a run: kept in ``tmp_path``, copied to ``$BAOCAO_SCREENSHOTS`` if set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.copy_to = (
            Path(os.environ["BAOCAO_SCREENSHOTS"]) if os.environ.get("BAOCAO_SCREENSHOTS") else None
        )

    def take(self, page, name: str, full_page: bool = True) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 5000  # a rendered page, not an empty frame
        if self.copy_to:
            self.copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.copy_to / path.name)
        return path


def submit(page, workbook: Path, verdict: str) -> tuple[str, float]:
    """Choose ``workbook``, press "Nộp báo cáo", wait for the verdict box of class ``verdict``;
    return its text and the seconds from the click to the verdict on screen."""
    page.set_input_files("#tep", str(workbook))
    started = time.monotonic()
    page.get_by_role("button", name="Nộp báo cáo").click()
    page.wait_for_selector(f"#ket-qua.{verdict}")
    return page.locator("#ket-qua").inner_text(), time.monotonic() - started


def test_a_clerk_fixes_a_file_on_a_phone_and_the_coordinator_sees_it_green(server, browser, tmp_path):
    dep, base = server
    shots = Shots(tmp_path)
    period = dep.period(PERIOD)

    clerk = browser.new_context(accept_downloads=True, locale="vi-VN", **PHONE)
    page = clerk.new_page()
    page.goto(base + link(dep))
    assert page.locator("h1").inner_text() == "Văn phòng Sở Nội vụ"
    shots.take(page, "1-trang-don-vi-dien-thoai")

    # the template, as the clerk gets it: a click, a download
    with page.expect_download() as got:
        page.get_by_role("link", name="Tải biểu mẫu (.xlsx)").click()
    template = tmp_path / got.value.suggested_filename
    got.value.save_as(template)

    # a file with a mistake: text in a number cell
    wrong = fill_workbook(
        template, valid_values(dep.form, period, tin_bai_cong_ttdt="mười lăm"), tmp_path / "sai.xlsx"
    )
    result, rejected_after = submit(page, wrong, "bad")
    assert "Chưa đạt: 1 lỗi cần sửa" in result and "'mười lăm' không phải số" in result
    shots.take(page, "2-bi-tra-lai-dien-thoai")
    shots.take(page, "2b-bi-tra-lai-man-hinh-dau", full_page=False)  # where the browser lands: #ket-qua

    # the marked-up workbook: the cell to fix carries a comment
    with page.expect_download() as got:
        page.get_by_role("link", name="Tải tệp đã đánh dấu các ô cần sửa").click()
    marked = openpyxl.load_workbook(io.BytesIO(Path(got.value.path()).read_bytes()))
    comments = [c.comment.text for row in marked["BaoCao"].iter_rows() for c in row if c.comment]
    assert any("không phải số" in text for text in comments)

    # the corrected file: accepted, with a receipt number
    right = fill_workbook(template, valid_values(dep.form, period), tmp_path / "dung.xlsx")
    result, accepted_after = submit(page, right, "good")
    assert "Đã tiếp nhận báo cáo" in result and "Số biên nhận: BN-000002" in result
    shots.take(page, "3-da-tiep-nhan-dien-thoai")
    shots.take(page, "3b-da-tiep-nhan-man-hinh-dau", full_page=False)
    clerk.close()

    # the coordinator at a desk: sign in, the unit's row is green
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    board = desk.new_page()
    board.goto(f"{base}/dieu-phoi?ky={PERIOD}")
    assert "/dieu-phoi/dang-nhap" in board.url
    board.fill("#ten", USER)
    board.fill("#mat_khau", PASSWORD)
    board.get_by_role("button", name="Đăng nhập").click()
    row = board.locator("#dv-NV_VP")
    assert "row-on_time" in (row.get_attribute("class") or "")
    assert "Đúng hạn" in row.inner_text()
    green = row.locator(".chip").evaluate("e => getComputedStyle(e).color")
    assert green == "rgb(23, 112, 58)"  # --good
    shots.take(board, "4-bang-theo-doi-may-tinh")

    # an action that changes state: a confirmation page first, then recorded on the board
    row.get_by_role("link", name="Gửi lại phản hồi…").click()
    assert "Gửi lại phản hồi?" in board.locator("h1").inner_text()
    shots.take(board, "6-xac-nhan-gui-lai")
    board.get_by_role("button", name="Xác nhận gửi lại").click()
    assert "Đã gửi lại phản hồi tệp 'dung.xlsx'" in board.locator(".alert.good").inner_text()
    assert "gửi lại phản hồi" in board.locator("text=Nhật ký thao tác >> xpath=..").inner_text()
    desk.close()

    phone = browser.new_context(locale="vi-VN", **PHONE)
    small = phone.new_page()
    small.goto(f"{base}/dieu-phoi/dang-nhap")
    small.fill("#ten", USER)
    small.fill("#mat_khau", PASSWORD)
    small.get_by_role("button", name="Đăng nhập").click()
    small.goto(f"{base}/dieu-phoi?ky={PERIOD}")
    # on a phone the table becomes cards: no sideways scrolling
    assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shots.take(small, "5-bang-theo-doi-dien-thoai")
    shots.take(small, "5b-bang-theo-doi-man-hinh-dau", full_page=False)
    phone.close()
    print(
        f"\nupload to verdict in the browser: rejected {rejected_after:.2f} s, accepted {accepted_after:.2f} s"
    )
