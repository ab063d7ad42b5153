"""The explorer in a real headless browser (Debian's chromium, driven by Selenium).

Needs the ``test`` extra (dash, selenium) and ``apt-get install chromium chromium-driver``
(``.ci/run`` installs both); skipped, saying which is missing, otherwise. The server is started
as a user starts it (``python -m sim.explore``) and stopped with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("dash", reason="the explorer extra is not installed: pip install -e '.[test]'")
pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("no system chromium/chromedriver: apt-get install -y chromium chromium-driver",
                allow_module_level=True)

# one worker under pytest -n: one explorer server and one browser for the module
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m sim.explore`` on a free port; yields (url, arms dir, process)."""
    runs = tmp_path_factory.mktemp("explore")
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sim.explore", "--port", str(port),
                             "--dir", str(runs), "scenario=default"], cwd=runs,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = f"http://127.0.0.1:{port}/"
    assert url in line, line
    deadline = time.time() + 60
    while time.time() < deadline:  # the address is printed just before the server listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    print(f"explorer listening {time.perf_counter() - t0:.2f} s after start")
    yield url, runs, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def chrome() -> webdriver.Chrome:
    """Debian's chromium, headless, at 1400x1000 (also used by experiments/explorer_tour)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="module")
def browser():
    driver = chrome()
    yield driver
    driver.quit()


def dash_id(key: str, kind: str) -> str:
    """The CSS selector of a pattern-matching id (Dash renders it as compact sorted JSON)."""
    return f"[id='{json.dumps({'key': key, 'type': kind}, separators=(',', ':'))}']"


def field(driver, key: str):
    return driver.find_element(By.CSS_SELECTOR, dash_id(key, "field"))


def error_of(driver, key: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, dash_id(key, "err")).text


def type_into(driver, key: str, text: str) -> None:
    box = field(driver, key)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text, Keys.ENTER)


def curves(driver) -> int:
    """The arms drawn on the survival plot (its legend entries)."""
    return driver.execute_script(
        "const g = document.querySelector('#survival .js-plotly-plot');"
        "return g && g.data ? g.data.filter(t => t.showlegend !== false).length : 0;")


def wait(driver, what, timeout: float = 120):
    # the page re-renders as results come: an element may go stale between find and read
    return WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=(
        NoSuchElementException, StaleElementReferenceException)).until(lambda d: what(d))


def test_form_run_compare_export(server, browser):
    url, runs, _proc = server
    t0 = time.perf_counter()
    browser.get(url)
    wait(browser, lambda d: field(d, "triage.analysts").get_attribute("value") == "3", 60)
    print(f"page interactive {time.perf_counter() - t0:.2f} s after load")
    assert browser.title == "insider-sim explorer"
    # the page pulls nothing from outside the server (it works offline)
    hosts = browser.execute_script(
        "return [...document.querySelectorAll('script[src],link[href]')]"
        ".map(e => e.src || e.href);")
    assert hosts and all(h.startswith(url) for h in hosts), hosts

    # an invalid value shows the command line's one line at its field; nothing runs
    type_into(browser, "triage.analysts", "-1")
    wait(browser, lambda d: "must be in" in error_of(d, "triage.analysts"), 60)
    assert error_of(browser, "triage.analysts") == \
        "triage.analysts: must be in [0, 100000], got -1"

    # arm 1: weekly audits, two analysts, 40 replications
    type_into(browser, "triage.analysts", "2")
    type_into(browser, "detectors.audit.interval", "1w")
    type_into(browser, "replications", "40")
    wait(browser, lambda d: error_of(d, "triage.analysts") == "", 60)
    browser.find_element(By.ID, "label").send_keys("weekly")
    t1 = time.perf_counter()
    browser.find_element(By.ID, "run").click()
    wait(browser, lambda d: "complete" in d.find_element(By.ID, "arms-table").text)
    print(f"arm 1 (40 replications of default) shown complete "
          f"{time.perf_counter() - t1:.2f} s after Run")
    assert curves(browser) == 1

    # arm 2: one analyst; both on one plot and in one table
    type_into(browser, "triage.analysts", "1")
    label = browser.find_element(By.ID, "label")
    label.send_keys(Keys.CONTROL, "a")
    label.send_keys("one analyst")
    browser.find_element(By.ID, "run").click()
    wait(browser, lambda d: d.find_element(By.ID, "arms-table").text.count("complete") == 2)
    wait(browser, lambda d: curves(d) == 2, 30)
    table = browser.find_element(By.ID, "arms-table").text
    assert "1: weekly" in table and "2: one analyst" in table

    # the exported command of arm 1 reproduces its replications.csv byte for byte
    browser.find_element(By.XPATH, "//*[text()='Command and files']").click()
    cmd = wait(browser, lambda d: d.find_element(By.ID, "command-1").text, 30)
    args = shlex.split(cmd)
    assert args[:3] == ["python", "-m", "sim"]
    assert "triage.analysts=2" in args and "detectors.audit.interval=1w" in args
    run_dir = Path(args[-1].split("=", 1)[1])
    again = runs / "again"
    out = subprocess.run([sys.executable, *args[1:-1], f"hydra.run.dir={again}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (again / "replications.csv").read_bytes() == \
        (run_dir / "replications.csv").read_bytes()
    link = browser.find_element(By.LINK_TEXT, "summary.json").get_attribute("href")
    assert link == f"{url}arm/1/summary.json"

    # one replication up close: the timeline, the network and the event log
    browser.find_element(By.XPATH, "//*[text()='One replication']").click()
    browser.find_element(By.ID, "trace-show").click()
    wait(browser, lambda d: d.find_elements(By.ID, "img-network"), 120)
    assert browser.find_element(By.ID, "img-timeline").size["height"] > 100
    assert "events" in browser.find_element(By.ID, "trace-view").text
    assert (run_dir / "replication-0" / "events.jsonl").is_file()


def test_cancel_and_ctrl_c(server, browser):
    url, runs, proc = server
    browser.get(url)
    wait(browser, lambda d: field(d, "replications").get_attribute("value"), 60)
    type_into(browser, "replications", "5000")
    type_into(browser, "horizon", "1y")
    wait(browser, lambda d: error_of(d, "replications") == "", 60)
    label = browser.find_element(By.ID, "label")
    label.send_keys(Keys.CONTROL, "a")
    label.send_keys("long")
    browser.find_element(By.ID, "run").click()
    run_dir = wait(browser, lambda _d: next(runs.glob("arm-*-long"), None), 60)
    # cancel once rows are coming in (progress shows them), as a user would
    wait(browser, lambda d: "running" in d.find_element(By.ID, "arms-table").text
         and (run_dir / "replications.csv.partial").is_file()
         and len((run_dir / "replications.csv.partial").read_text().splitlines()) > 2, 120)
    browser.find_element(By.ID, "cancel").click()
    wait(browser, lambda d: "cancelled" in d.find_element(By.ID, "arms-table").text, 60)
    run_json = run_dir / "run.json"
    wait(browser, lambda _d: run_json.is_file()
         and json.loads(run_json.read_text())["status"] == "interrupted", 30)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    rest = proc.stdout.read() if proc.stdout else ""
    assert "explorer stopped" in rest
    assert os.path.isdir(runs)
