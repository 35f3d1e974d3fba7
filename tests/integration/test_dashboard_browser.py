"""The dashboard in a real headless Chromium: log in, watch a crisis arrive live, open it with
the keyboard, resolve it, and see the supervisor numbers change; no horizontal overflow at
1366x768 or on a tablet.  Screenshots of the main pages go to test-artifacts/screenshots/.

Needs Debian's ``chromium`` and ``chromium-driver`` (no browser is downloaded).  Without them the
test skips, unless CRISIS_TRIAGE_REQUIRE_BROWSER=1 (CI), when it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_fakes import FakeScorer, message
from service_helpers import PASSWORD, Factory, empty_tables, served_in_thread, settings_for
from web_helpers import browser_or_skip

from crisis_triage.storage import make_engine, make_session_factory
from crisis_triage.triage import Role
from crisis_triage.web import create_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORTS = {"laptop": (1366, 768), "tablet": (820, 1180)}


@pytest.fixture
def server(sqlite_url: str) -> Iterator[dict[str, Any]]:
    """The real service with the dashboard on a free port, a supervisor and a platform key."""
    engine = make_engine(sqlite_url)
    empty_tables(engine)
    with make_session_factory(engine)() as session:
        factory = Factory(session)
        factory.user(Role.SUPERVISOR, name="sue")
        factory.user(Role.ADMIN, name="ada")
        platform = factory.api_key("messages:write")
        care = factory.api_key("care:write", "alerts:read")
    engine.dispose()
    app = create_app(settings_for(sqlite_url, sse_poll_seconds=0.5), scorer=FakeScorer())
    with served_in_thread(app) as url:
        yield {"url": url, "platform": platform, "care": care}


@pytest.fixture
def browser() -> Iterator[Any]:
    browser_or_skip(CHROMIUM, CHROMEDRIVER)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1366,768")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _viewport(driver: Any, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def _wait(driver: Any, condition: Any, timeout: float = 10) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _keys(driver: Any, keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(keys).perform()


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def _shot(driver: Any, name: str) -> None:
    """Full-page screenshots at the laptop size and (``name-tablet``) the tablet size."""
    for suffix, (width, height) in (("", VIEWPORTS["laptop"]), ("-tablet", VIEWPORTS["tablet"])):
        _viewport(driver, width, height)
        full = driver.execute_script("return document.documentElement.scrollHeight")
        _viewport(driver, width, max(height, min(int(full), 2400)))
        driver.save_screenshot(str(SCREENSHOTS / f"{name}{suffix}.png"))
    _viewport(driver, *VIEWPORTS["laptop"])


def _no_console_errors(driver: Any) -> None:
    """Nothing blocked by the Content-Security-Policy, no script errors, no missing files."""
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def _no_horizontal_overflow(driver: Any, page: str) -> None:
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page} scrolls sideways by {overflow}px"


def test_a_crisis_arrives_live_is_resolved_and_counts(server: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, driver = server["url"], browser
    _viewport(driver, *VIEWPORTS["laptop"])
    with httpx.Client(base_url=base, headers=server["platform"], timeout=10) as api:
        api.post("/v1/messages", json=message(text="Can I move my appointment?", patient_id="p-7"))
        api.post("/v1/messages", json=message(text="The refill did not arrive", patient_id="p-9"))

        driver.get(base + "/queue")  # not logged in: to the login page, then back here
        _wait(driver, lambda d: "/login" in d.current_url)
        _shot(driver, "login")
        driver.find_element(By.ID, "username").send_keys("sue")
        driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
        _wait(driver, lambda d: d.current_url.endswith("/queue"))
        assert len(driver.find_elements(By.CSS_SELECTOR, "#queue-rows tr[data-case]")) == 2
        assert driver.title.startswith("Queue")

        driver.get(base + "/supervisor")
        assert _text(driver, "#open-crises") == "0"
        assert _text(driver, "#ppv") == "–"

        driver.get(base + "/queue")
        reply = api.post(
            "/v1/messages",
            json=message(text="I am going to take an overdose tonight", patient_id="p-7"),
        )
        assert reply.json()["priority"] == "crisis"
        crisis_case = reply.json()["case_id"]
        # It appears at the top without a reload, announced, counted in the tab title.
        _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#queue-rows tr[data-tier="0"]'))
        first = driver.find_element(By.CSS_SELECTOR, "#queue-rows tr[data-case]")
        assert first.get_attribute("data-case") == str(crisis_case)
        assert "CRISIS" in first.text.upper()
        _wait(driver, lambda d: d.title.startswith("(1) "))
        announced = driver.find_element(By.ID, "live-crisis").get_attribute("textContent")
        assert "New crisis" in announced
        _shot(driver, "queue")
        for name, size in VIEWPORTS.items():
            _viewport(driver, *size)
            _no_horizontal_overflow(driver, f"queue at {name}")
        _viewport(driver, *VIEWPORTS["laptop"])

    # Keyboard: j selects the top case, Enter opens it, c claims, a acknowledges, r resolves.
    driver.find_element(By.TAG_NAME, "body").click()
    _keys(driver, "j")
    _keys(driver, Keys.ENTER)
    _wait(driver, lambda d: d.current_url.endswith(f"/cases/{crisis_case}"))
    assert driver.find_element(By.CSS_SELECTOR, ".message-text mark").text.lower() == "overdose"
    _keys(driver, "c")
    _wait(driver, lambda d: "You claimed this case" in d.page_source)
    _keys(driver, "a")
    _wait(driver, lambda d: "Acknowledged." in d.page_source)
    _shot(driver, "case")
    for name, size in VIEWPORTS.items():
        _viewport(driver, *size)
        _no_horizontal_overflow(driver, f"case at {name}")
    _viewport(driver, *VIEWPORTS["laptop"])
    _keys(driver, "r")
    focused = driver.switch_to.active_element
    assert focused.get_attribute("name") == "disposition"
    assert focused.get_attribute("value") == "confirmed_crisis"
    focused.click()
    driver.find_element(By.ID, "note").send_keys("Called the patient; safety plan in place.")
    driver.find_element(By.CSS_SELECTOR, "#resolve-form button[type=submit]").click()
    _wait(driver, lambda d: "Case resolved." in d.page_source)

    driver.get(base + "/supervisor")
    assert _text(driver, "#open-crises") == "0"
    assert _text(driver, "#ppv") == "100%"
    assert _text(driver, "#median-crisis") != "–"
    _shot(driver, "supervisor")
    for name, size in VIEWPORTS.items():
        _viewport(driver, *size)
        _no_horizontal_overflow(driver, f"supervisor at {name}")
    _no_console_errors(driver)


def test_admin_page_fits_and_shows_a_new_key_once(server: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, driver = server["url"], browser
    _viewport(driver, *VIEWPORTS["laptop"])
    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys("ada")
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    _wait(driver, lambda d: d.current_url.endswith("/queue"))
    driver.get(base + "/admin")
    driver.find_element(By.ID, "key-name").send_keys("dashboards" + Keys.ENTER)
    _wait(driver, lambda d: d.find_elements(By.ID, "new-key"))
    assert driver.find_element(By.ID, "new-key").get_attribute("value").startswith("ctk_")
    _shot(driver, "admin")
    for name, size in VIEWPORTS.items():
        _viewport(driver, *size)
        _no_horizontal_overflow(driver, f"admin at {name}")
    driver.get(base + "/admin")
    assert not driver.find_elements(By.ID, "new-key")
    _no_console_errors(driver)


def test_a_resolved_crisis_gets_follow_ups_one_is_completed_one_overdue_alerts(
    server: dict[str, Any], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    base, driver = server["url"], browser
    _viewport(driver, *VIEWPORTS["laptop"])
    with httpx.Client(base_url=base, headers=server["platform"], timeout=10) as api:
        reply = api.post("/v1/messages", json=message(text="I took an overdose", patient_id="p-fu"))
        case_id = reply.json()["case_id"]
    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys("sue")
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    _wait(driver, lambda d: d.current_url.endswith("/queue"))
    driver.get(f"{base}/cases/{case_id}")
    driver.find_element(By.TAG_NAME, "body").click()
    _keys(driver, "c")
    _wait(driver, lambda d: "You claimed this case" in d.page_source)
    _keys(driver, "a")
    _wait(driver, lambda d: "Acknowledged." in d.page_source)
    driver.find_element(
        By.CSS_SELECTOR, 'input[name="disposition"][value="confirmed_crisis"]'
    ).click()
    driver.find_element(By.CSS_SELECTOR, "#resolve-form button[type=submit]").click()
    _wait(driver, lambda d: "Case resolved." in d.page_source)

    driver.find_element(By.LINK_TEXT, "Follow-ups").click()
    _wait(driver, lambda d: d.current_url.endswith("/follow-ups"))
    rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-follow-up]")
    assert [r.get_attribute("data-status") for r in rows] == ["scheduled"] * 4
    first = rows[0].get_attribute("data-follow-up")
    Select(driver.find_element(By.ID, f"outcome-{first}")).select_by_value("reached")
    driver.find_element(By.ID, f"note-{first}").send_keys("Spoke with her; safe at home.")
    rows[0].find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(driver, lambda d: "Follow-up recorded." in d.page_source)
    assert len(driver.find_elements(By.CSS_SELECTOR, "tr[data-follow-up]")) == 3

    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    with httpx.Client(base_url=base, headers=server["care"], timeout=10) as api:
        late = api.post(
            "/v1/follow-ups",
            json={"patient_id": "p-fu", "due_at": an_hour_ago, "kind": "call"},
        )
        assert late.status_code == 201, late.text
        alerts = api.get("/v1/alerts", params={"kind": "follow_up"}).json()
        assert [a["payload"]["follow_up_id"] for a in alerts] == [late.json()["id"]]
    driver.get(base + "/follow-ups")
    overdue = driver.find_elements(By.CSS_SELECTOR, 'tr[data-status="overdue"]')
    assert [r.get_attribute("data-follow-up") for r in overdue] == [str(late.json()["id"])]
    _shot(driver, "follow-ups")
    driver.get(base + "/patients/p-fu")
    assert driver.find_elements(By.CSS_SELECTOR, "#risk h2, section[aria-labelledby=risk-h] svg")
    _shot(driver, "patient")
    for name, size in VIEWPORTS.items():
        _viewport(driver, *size)
        _no_horizontal_overflow(driver, f"patient page at {name}")
    _no_console_errors(driver)


def test_an_evaluation_report_with_many_groups_fits_the_page(browser: Any, tmp_path: Path) -> None:
    """The report's subgroup table (nine columns of intervals) stays within the page; a table
    wider still scrolls inside its own box."""
    import numpy as np

    from crisis_triage.evaluation import EvaluationData, EvaluationReport, ReportConfig

    rng = np.random.default_rng(3)
    n = 3000
    labels = (rng.random(n) < 0.1).astype(int)
    scores = np.clip(rng.beta(1, 10, n) + 0.5 * labels * rng.random(n), 0, 1)
    clinic = rng.choice([f"community mental health clinic number {i}" for i in range(8)], n)
    data = EvaluationData.from_arrays(labels, scores, 0.1, groups={"clinic": clinic})
    report = EvaluationReport(ReportConfig(n_boot=100, seed=1)).run(data)
    page = report.save(tmp_path)["html"]
    driver = browser
    for name, size in VIEWPORTS.items():
        _viewport(driver, *size)
        driver.get(page.as_uri())
        _no_horizontal_overflow(driver, f"evaluation report at {name}")
