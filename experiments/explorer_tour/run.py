"""The explorer as a user meets it, timed, with the README's screenshot (issue #17).

Starts ``python -m sim.explore scenario=coupang_2025`` as a user does, drives it in Debian's
headless chromium (Selenium, as tests/explore/test_browser.py does) and measures what #17 asks
of it on this machine: seconds from start to a listening server, from page load to an
interactive form, and from Run to a complete 200-replication coupang_2025 arm on screen. A
second arm lowers the per-address volume rule below the insider's rate (1000 -> 500 requests
an hour; the sensitivity study's deciding parameter), so the screenshot shows two arms apart.

    python experiments/explorer_tour/run.py           # -> results/timings.json, explorer.png
    python experiments/explorer_tour/run.py --quick   # 40 replications an arm, scratch dir

Needs the explore and test extras and ``apt-get install chromium chromium-driver``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

if not (shutil.which("chromium") and shutil.which("chromedriver")):
    print("error: needs Debian's chromium: apt-get install -y chromium chromium-driver",
          file=sys.stderr)
    sys.exit(2)
try:
    import dash  # noqa: F401
    import selenium  # noqa: F401
except ImportError:
    print("error: needs the explore and test extras: pip install -e '.[explore,test]'",
          file=sys.stderr)
    sys.exit(2)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from tests.explore.test_browser import (  # noqa: E402
    chrome,
    curves,
    error_of,
    field,
    free_port,
    type_into,
    wait,
)


def run_arm(driver, label: str, replications: int, count: int) -> float:
    """Fill the label, press Run and wait for ``count`` complete arms; seconds from Run."""
    type_into(driver, "replications", str(replications))
    wait(driver, lambda d: error_of(d, "replications") == "", 60)
    box = driver.find_element(By.ID, "label")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(label)
    t0 = time.perf_counter()
    driver.find_element(By.ID, "run").click()
    wait(driver, lambda d: d.find_element(By.ID, "arms-table").text.count("complete") == count,
         600)
    wait(driver, lambda d: curves(d) == count, 60)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 replications an arm, scratch")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or (Path(tempfile.mkdtemp(prefix="explorer_tour-")) if args.quick
                       else HERE / "results")
    out.mkdir(parents=True, exist_ok=True)
    n = 40 if args.quick else 200
    runs = Path(tempfile.mkdtemp(prefix="explorer_runs-"))
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sim.explore", "--port", str(port),
                             "--dir", str(runs), "scenario=coupang_2025"], cwd=runs,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    driver = None
    try:
        import socket
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 60:
                    raise SystemExit("the explorer did not start") from None
                time.sleep(0.05)
        listening = time.perf_counter() - t0
        driver = chrome()
        t1 = time.perf_counter()
        driver.get(f"http://127.0.0.1:{port}/")
        wait(driver, lambda d: field(d, "replications").get_attribute("value") == "200", 60)
        interactive = time.perf_counter() - t1
        arm1 = run_arm(driver, "Coupang's controls", n, 1)
        type_into(driver, "detectors.threshold_rules.max_requests_per_ip_hour", "500")
        arm2 = run_arm(driver, "per-address rule at 500/h", n, 2)
        time.sleep(1.0)  # let the plots settle before the picture
        driver.save_screenshot(str(out / "explorer.png"))
        timings = {"replications_per_arm": n, "start_to_listening_s": round(listening, 2),
                   "page_load_to_interactive_s": round(interactive, 2),
                   "run_to_arm_shown_s": [round(arm1, 2), round(arm2, 2)],
                   "load_average": [round(x, 2) for x in os.getloadavg()],
                   "cores": os.cpu_count()}
        (out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
        print(json.dumps(timings))
        print(f"wrote {out / 'timings.json'}, {out / 'explorer.png'}")
    finally:
        if driver is not None:
            driver.quit()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
