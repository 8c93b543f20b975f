"""Time from upload to verdict on the web desk, on the demo deployment (issue 15).

Run from the repository root after ``make demo``::

    .venv/bin/python bench/web_upload.py [--config config.toml] [--rounds 10]

It starts ``baocao serve`` on a free port of 127.0.0.1 as its own process (as a coordinator
would), then, as a unit's browser would, posts a filled workbook to the unit's secret link and
follows the redirect to the verdict page: the time measured is from the first byte of the upload
to the last byte of the verdict page. Each round uploads one file with a mistake (rejected: the
marked-up workbook is written) and one good file (accepted), both new (a duplicate is quicker),
for a demo unit. The files are made from the unit's real template by ``spec.samples``.

It adds those files to the demo's ledger like any upload; ``make demo`` starts afresh.
Prints one line per upload and, last, ``median_rejected_s=… median_accepted_s=… max_s=…``.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baocao import api  # noqa: E402 - the path must be set first
from baocao.spec.links import unit_path  # noqa: E402
from baocao.spec.samples import sample_values, with_flaw  # noqa: E402
from baocao.workbook.template import render_template  # noqa: E402

UNIT, PERIOD = "NV_CCHC", "2025-Q1"


def workbook(dep: api.Deployment, seed: int, flawed: bool) -> bytes:
    period = dep.period(PERIOD)
    unit = dep.unit(UNIT, period)
    rng = random.Random(seed)
    values = sample_values(dep.form, rng, period, today=period.due_before, unit=UNIT)
    if flawed:
        values, _ = with_flaw(dep.form, values, "text_in_number", rng)
    return render_template(dep.form, replace(api.template_context(dep, unit, period), values=values))


def post(url: str, name: str, content: bytes) -> tuple[int, str]:
    """A multipart upload as a browser sends it; follows the 303 to the verdict page."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="che_do"\r\n\r\nnop\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="tep"; filename="{name}"\r\n'
        "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
    ).encode()
    body = head + content + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # urllib follows the 303
        return response.status, response.read().decode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    dep = api.load_deployment(args.config)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "baocao", "--config", args.config, "serve", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("baocao serve did not start")
            time.sleep(0.2)
    url = f"http://127.0.0.1:{port}{unit_path(dep, UNIT, PERIOD)}/nop"
    times: dict[bool, list[float]] = {True: [], False: []}
    seed = int(time.time())
    try:
        for round_ in range(args.rounds):
            for flawed in (True, False):
                content = workbook(dep, seed + 2 * round_ + flawed, flawed)
                started = time.perf_counter()
                status, page = post(url, f"bench-{round_}.xlsx", content)
                took = time.perf_counter() - started
                verdict = (
                    "Chưa đạt" if "Chưa đạt" in page else ("Đã tiếp nhận" if "Đã tiếp nhận" in page else "?")
                )
                print(f"{'sai' if flawed else 'đúng'}  {status}  {verdict:<13} {took:.2f} s", flush=True)
                times[flawed].append(took)
    finally:
        server.terminate()
        server.wait(20)
    every = times[True] + times[False]
    print(
        f"median_rejected_s={statistics.median(times[True]):.2f} "
        f"median_accepted_s={statistics.median(times[False]):.2f} max_s={max(every):.2f}"
    )


if __name__ == "__main__":
    main()
