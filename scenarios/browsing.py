"""Debian's chromium driven by Selenium through Debian's chromium-driver (no
download), for the scenarios that use a real browser: the `browser` fixture
(scenarios/conftest.py) and a wait on what a page shows."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from lab.model.config import REPO

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
OPTIONS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--window-size=1400,1200")
REPORTS = REPO / "reports"


def _missing(reason: str) -> None:
    if os.environ.get("FOOLAB_REQUIRE_LAB"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def chromium() -> Iterator[Any]:
    """A headless chromium for one module (scenarios/conftest.py's `browser`)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is missing: pip install -e '.[test]'")
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        _missing("chromium or chromium-driver is missing: `make lab-up` installs them "
                 "(scripts/install-browser.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for option in OPTIONS:
        options.add_argument(option)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: Any, what: str, check: Any, timeout: float) -> Any:
    """Wait until the page shows something (polling the DOM, never a blind sleep).
    The page redraws what changed, so an element read a moment ago may be gone:
    that is "not yet", not a failure."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: check(d), message=f"the page did not show {what} within {timeout:g} s")


def click(driver: Any, what: str, css: str, timeout: float) -> None:
    """Click the first element matching `css` once the page shows it. The
    teacher's grid redraws its rows every few seconds, so an element found
    a moment ago may be gone when clicked: found and clicked again, not a
    failure (seen once in CI: StaleElementReferenceException on a row's link)."""
    from selenium.webdriver.common.by import By

    def clicked(d: Any) -> bool:
        found = d.find_elements(By.CSS_SELECTOR, css)
        if found:
            found[0].click()
        return bool(found)

    until(driver, what, clicked, timeout)


