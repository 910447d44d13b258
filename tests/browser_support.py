"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright, kept off the network.

Used by tests/test_site_browser.py and tests/test_explorer_browser.py. The browser is the system's
(``$COURSE_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on PATH): Playwright's own download is never
used. Where no Chromium (or no Playwright) is installed the tests skip with a message saying how to install
it, except when ``COURSE_REQUIRE_BROWSER=1`` (set in CI), which turns the skip into a failure.

Off the network: the host resolver maps every name to nothing except localhost, background services are
switched off, and every request the page makes to anything but ``file://`` or the loopback address is
aborted and recorded (``Browser.external``) so a test can assert there was none (no CDN at view time).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
]
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
INSTALL_HINT = "apt-get install chromium, pip install playwright (see .ci/run)"


def find_chromium() -> str | None:
    """Path of the system Chromium, or None."""
    env = os.environ.get("COURSE_CHROMIUM")
    if env:
        return env if os.path.exists(env) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def require_browser() -> str:
    """The Chromium path; skips the test (fails under ``COURSE_REQUIRE_BROWSER=1``) when there is none."""
    why = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        why = "Playwright is not installed"
    path = find_chromium()
    if why is None and path is None:
        why = "no Chromium on PATH (or $COURSE_CHROMIUM)"
    if why is None:
        return path
    _skip_unless_required(
        f"browser tests need a real browser: {why}; install it with: {INSTALL_HINT}", "COURSE_REQUIRE_BROWSER"
    )


def _skip_unless_required(message: str, flag: str) -> None:
    """Skip the test with ``message``; fail it instead where the environment variable ``flag`` is ``1`` (CI)."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{message} ({flag}=1)")
    pytest.skip(message)


def require_site_extra(*modules: str) -> None:
    """Skip a test of the website or the explorer app where the ``site`` extra (Sphinx, MathJax, Voilà) is not
    installed (a Colab runtime has none of it); fail instead under ``COURSE_REQUIRE_SITE=1`` (CI's main job)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    _skip_unless_required(
        f"needs the site extra ({', '.join(missing)} missing): pip install 'explaining-bert[site]'",
        "COURSE_REQUIRE_SITE",
    )


@dataclass
class Browser:
    """One browser context: ``page``, the console errors and page errors seen, the external requests blocked."""

    context: object
    page: object
    console_errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def new_page(self):
        page = self.context.new_page()
        page.on(
            "console",
            lambda msg: msg.type == "error" and self.console_errors.append(f"{page.url}: {msg.text}"),
        )
        page.on("pageerror", lambda exc: self.console_errors.append(f"{page.url}: {exc}"))
        return page


def _route(browser: Browser):
    def handle(route):
        url = route.request.url
        parsed = urlparse(url)
        if parsed.scheme in ("file", "data", "blob", "about") or parsed.hostname in LOCAL_HOSTS:
            return route.continue_()
        browser.external.append(url)
        return route.abort()

    return handle


@contextmanager
def chromium(viewport=(1280, 900)):
    """A headless Chromium context kept off the network (see the module docstring)."""
    path = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = b.new_context(
                viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block"
            )
            browser = Browser(context, None)
            context.route("**/*", _route(browser))
            browser.page = browser.new_page()
            yield browser
        finally:
            b.close()
