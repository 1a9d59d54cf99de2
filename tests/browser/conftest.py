"""Browser tests: the app as a person runs it (gunicorn and a worker, as processes),
seen through Debian's chromium driven by Playwright. Nothing is downloaded:
scripts/test installs the browser with apt when it is missing.

    def test_the_list(live_stack, live_api, page, screenshot, target):
        live_api.post(live_stack + "/api/chronos", json={..., "url": target.url("/hook")}, timeout=5)
        page.goto(live_stack + "/")
        expect(page.get_by_role("heading", name="Chronos")).to_be_visible()
        screenshot(page, "chronos-list")

Fixtures
  live_stack   base URL ("http://127.0.0.1:PORT", no trailing slash) of one web server
               and one worker shared by the whole session, on the embedded default
               (SQLite database and queue in a temporary folder), SCHEDULER_INTERVAL at
               its default. Shared: tests see each other's chronos, so name yours.
  live_api     a requests.Session with an API token of live_stack's admin (session).
  live_user    (username, password) of that admin.
  live_db      the path of live_stack's SQLite database (to write rows as an older
               version wrote them).
  browser      chromium, headless (session).
  page         a page in a fresh context per test, signed in as live_user, 1280x800,
               in the language of the `locale` fixture (default "en-US"; a test picks
               another with @pytest.mark.parametrize("locale", ["pt-BR"])).
  phone_page   the same at 390x844, mobile and touch.
  new_page     new_page(**options) -> one more page in a fresh context, with
               Browser.new_context options (viewport, locale, ...) over the defaults;
               new_page(storage_state=None) has not signed in.
  screenshot   screenshot(page, name) -> the Path of a full-page PNG,
               test-artifacts/screenshots/<name>.png (kept after the run, gitignored);
               with UPDATE_SCREENSHOTS=1 also copied to docs/screenshots/<name>.png.
               docs=False keeps a screenshot out of docs/.
  target       (tests/conftest.py) a real HTTP server on 127.0.0.1 to point chronos at.
  live_waha    the fake WAHA that live_stack's WAHA_BASE_URL points at (session-wide:
               call live_waha.reset() first); messages are paced 0.2-0.4 s apart.
               Sessions created through the pages send live_stack their events
               (WAHA_WEBHOOK_BASE_URL/TOKEN/HMAC_KEY are set), signed.

Every page also checks, when its test ends, that it raised no uncaught JavaScript
error and asked nothing of another machine (the dashboard must work offline: such
requests are refused on the spot). A failed test saves a screenshot of each of its
pages in test-artifacts/failures/ (emptied when a run starts the browser) and shows
the tail of the web and worker logs.
Every test here is marked `e2e`, so `-m "not e2e"` leaves them out.
"""
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from ..support.fake_waha import FakeWaha
from ..support.stack import PASSWORD, ROOT, USERNAME, Stack

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where chromium's sandbox cannot start
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]
ON_CI = os.environ.get("CI", "") not in ("", "0", "false", "False", "FALSE")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
FAILURES = ROOT / "test-artifacts" / "failures"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
# Any http(s) address not on this machine; a regex is matched inside Playwright's
# driver, so requests to the stack never make a round trip through Python.
ELSEWHERE = re.compile(r"^https?://(?!(127\.0\.0\.1|localhost|\[::1\])(:\d+)?([/?#]|$))", re.IGNORECASE)
HERE = Path(__file__).resolve().parent

_running = {}  # "stack": the live Stack, for its logs in failure reports
_call_report = pytest.StashKey()


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_call_report] = report
    stack = _running.get("stack")
    if report.failed and stack is not None and "live_stack" in item.fixturenames:
        for name in ("web", "worker"):
            report.sections.append((f"live_stack {name} log (tail)", stack.log(name)))
    return report


@pytest.fixture(scope="session")
def live_waha():
    """The fake WAHA (tests/support/fake_waha.py) live_stack talks to; shared, so a
    test that uses it calls live_waha.reset() first."""
    server = FakeWaha(api_key="live-key", start_delay=0.5)
    yield server
    server.close()


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory, live_waha):
    folder = tmp_path_factory.mktemp("live_stack")
    stack = Stack(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'chronoflow.db'}",
            "HUEY_SQLITE_PATH": str(folder / "huey.db"),
            "REDIS_URL": "",  # "" is the default: the embedded queue
            "SCHEDULER_INTERVAL": "",
            # WhatsApp goes to the fake WAHA, with a short pause between messages.
            **live_waha.settings(),
            "MESSAGE_DELAY_MIN_SECONDS": "0.2",
            "MESSAGE_DELAY_MAX_SECONDS": "0.4",
            "WAHA_WEBHOOK_TOKEN": "live-webhook-token-0123456789",
            "WAHA_WEBHOOK_HMAC_KEY": "live-webhook-hmac-key-0123456789",
        },
        folder,
    )
    stack.env["WAHA_WEBHOOK_BASE_URL"] = stack.base  # where the fake WAHA sends its webhooks
    try:
        _running["stack"] = stack.start()
        _running["db"] = folder / "chronoflow.db"
        yield stack.base
    finally:
        _running.pop("stack", None)
        stack.stop()


@pytest.fixture(scope="session")
def live_api(live_stack):
    return _running["stack"].http


@pytest.fixture(scope="session")
def live_db(live_stack):
    return _running["db"]


@pytest.fixture(scope="session")
def live_user():
    return USERNAME, PASSWORD


@pytest.fixture(scope="session")
def signed_in(live_stack, browser):
    """The cookies of a browser that signed in through the form, for every page's context."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(live_stack + "/login")
        page.get_by_label("Username").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        assert not page.url.startswith(live_stack + "/login"), "signing in failed"
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        message = f"no browser at {CHROMIUM}: scripts/test installs it (Debian: apt-get install chromium)"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    shutil.rmtree(FAILURES, ignore_errors=True)  # what failed in an earlier run misleads
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def locale():
    return "en-US"


@pytest.fixture
def new_page(browser, locale, signed_in, request):
    opened = []

    def new(**options):
        defaults = {"viewport": {"width": 1280, "height": 800}, "locale": locale, "storage_state": signed_in}
        context = browser.new_context(**{**defaults, **options})
        problems = []
        context.route(ELSEWHERE, lambda route: _refuse(route, problems))
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"uncaught JavaScript error on {page.url}: {error}"))
        # The Content-Security-Policy (chronoflow/security.py): a page that breaks it fails.
        page.on("console", lambda message: "Content Security Policy" in message.text
                and problems.append(f"CSP violation on {page.url}: {message.text}"))
        opened.append((context, page, problems))
        return page

    yield new

    report = request.node.stash.get(_call_report, None)
    try:
        if report is not None and report.failed:
            FAILURES.mkdir(parents=True, exist_ok=True)
            stem = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            for number, (_, page, _) in enumerate(opened, 1):
                try:
                    page.screenshot(path=FAILURES / f"{stem}-{number}.png", full_page=True)
                except Exception:  # a crashed page: the test's own failure says more
                    pass
        problems = [problem for _, _, found in opened for problem in found]
        if problems and report is not None and report.passed:
            pytest.fail("\n".join(problems), pytrace=False)
    finally:
        for context, _, _ in opened:
            context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def phone_page(new_page):
    return new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)


_taken = {}  # screenshot name -> the test that took it


@pytest.fixture
def screenshot(request):
    def take(page, name, docs=True):
        if not re.fullmatch(r"[\w.-]+", name):
            raise ValueError(f"a screenshot name is letters, digits, '.', '-' and '_': {name!r}")
        owner = _taken.setdefault(name, request.node.nodeid)
        if owner != request.node.nodeid:
            raise ValueError(f"screenshot {name!r} is already taken by {owner}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
        if docs and os.environ.get("UPDATE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
        return path

    return take


def _refuse(route, problems):
    problems.append(f"a page asked another machine for {route.request.url} (the dashboard must work offline)")
    route.abort("blockedbyclient")
