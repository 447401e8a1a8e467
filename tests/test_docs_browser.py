"""The documentation site in a real browser (Debian's chromium, headless, through Selenium 4).

The site is built once per session with ``mkdocs build --strict`` (or taken prebuilt from the folder
in ``REPALIGN_DOCS_SITE``), served on 127.0.0.1 and opened page by page: each page has an ``h1``,
no SEVERE console message and no broken image; each measure card shows a figure and links to CSV
data the server returns; Material's search finds a measure card. A screenshot of every visited page
goes to ``REPALIGN_TEST_ARTIFACTS`` (default ``build/test-artifacts/docs-browser/``).

Only the system browser and driver are used (``shutil.which``); Selenium Manager must never
download one (``SE_OFFLINE=true``). Without chromium, chromedriver or selenium the module is
skipped, unless ``REPALIGN_REQUIRE_BROWSER=1`` (CI), where every test fails with the reason.

Environment:
    REPALIGN_DOCS_SITE: a built site folder to test instead of building one.
    REPALIGN_DOCS_CONFIG: the mkdocs config to build (default: ``mkdocs.yml`` at the root).
    REPALIGN_TEST_ARTIFACTS: where the screenshots go.
    REPALIGN_REQUIRE_BROWSER: ``1`` turns a missing browser into a failure.
"""

import contextlib
import functools
import http.server
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _card_slug(canonical: str) -> str:
    """The page name of a measure card, as tools/docsite names it."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", canonical).strip("-")


# canonical name -> the card's expected H1 (alias — canonical when the measure has an alias)
CARDS = {
    "procrustes-angular_score": "angular-procrustes — procrustes-angular_score",
    "cka-kernel=linear-hsic=gretton-score": "cka — cka-kernel=linear-hsic=gretton-score",
    "ridge-lambda=100-r2-cv=5folds": "ridge-cv — ridge-lambda=100-r2-cv=5folds",
}
PAGES = ["index.html", "catalogue/", "measures/", "comparison/"] + [f"measures/{_card_slug(name)}/" for name in CARDS]
SEARCH_TARGET = f"measures/{_card_slug('procrustes-angular_score')}/"


def _browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    missing = [what for what, found in (("chromium", shutil.which("chromium")),
                                        ("chromedriver", shutil.which("chromedriver")),
                                        ("the Python package selenium", importlib.util.find_spec("selenium")))
               if not found]
    if not missing:
        return None
    return f"no {', no '.join(missing)} (apt-get install chromium chromium-driver; pip install selenium)"


def _browser_required() -> bool:
    return os.environ.get("REPALIGN_REQUIRE_BROWSER", "") == "1"


if _browser_missing() and not _browser_required():
    pytest.skip(f"browser test skipped: {_browser_missing()}", allow_module_level=True)


# --------------------------------------------------------------------------------------------------
# Helpers: serving a folder, starting the browser, and the checks (each returns what is wrong)
# --------------------------------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A browser that stops reading mid-file (a page left before an image finished) is not an error."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 on a free port, in a daemon thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="docs-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def start_chromium():
    """Headless Chromium with the system browser and driver; console messages of every level kept."""
    reason = _browser_missing()
    if reason:
        pytest.fail(f"REPALIGN_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or driver
    options = Options()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     # the site must work offline: every host but 127.0.0.1 fails, with or without a network
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    driver.set_page_load_timeout(60)
    return driver


def open_page(driver, url: str) -> None:
    """Load ``url`` after emptying the console log, so that later messages are this page's."""
    driver.get_log("browser")
    driver.get(url)


# console messages that are not the site's fault (none: the site loads nothing from outside, mkdocs.yml
# sets no repo_url, whose GitHub API call would fail offline, and no Google Fonts)
TOLERATED_CONSOLE: tuple = ()


def severe_console_messages(driver) -> list[str]:
    """The SEVERE console messages since the last read (reading empties the log), less TOLERATED_CONSOLE."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE"
            and not any(pattern.search(entry["message"]) for pattern in TOLERATED_CONSOLE)]


def broken_images(driver, timeout: float = 20.0) -> list[str]:
    """The src of every ``<img>`` that did not load (naturalWidth 0), after making lazy images load.

    Lazy images are switched to eager and the page is scrolled to the bottom; then we wait until
    every image is complete (a broken image is complete too) or ``timeout`` passes.
    """
    driver.execute_script("document.querySelectorAll('img').forEach(img => { img.loading = 'eager'; });"
                          "window.scrollTo(0, document.body.scrollHeight);")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script("return Array.from(document.images).every(img => img.complete);"):
            break
        time.sleep(0.1)
    return driver.execute_script(
        "return Array.from(document.images)"
        ".filter(img => !img.complete || img.naturalWidth === 0).map(img => img.currentSrc || img.src);")


def unrendered_math(driver, timeout: float = 10.0) -> list[str]:
    """The TeX of each ``.arithmatex`` element that KaTeX has not rendered within ``timeout``.

    mkdocs.yml writes math with pymdownx.arithmatex (generic) and javascripts/katex-render.js renders it;
    a rendered element holds a ``.katex`` element.
    """
    script = ("return Array.from(document.querySelectorAll('.arithmatex'))"
              ".filter(node => !node.querySelector('.katex')).map(node => node.textContent.trim());")
    deadline = time.monotonic() + timeout
    while (left := driver.execute_script(script)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def image_count(driver) -> int:
    return driver.execute_script("return document.images.length;")


def csv_links(driver) -> list[str]:
    """The absolute URLs of the links on the page whose path ends in .csv."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
        ".filter(href => new URL(href).pathname.toLowerCase().endsWith('.csv'));")


def unreachable(urls: list[str]) -> list[str]:
    """Each URL the server does not answer with status 200, with what it answered."""
    problems = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=20) as response:
                if response.status != 200:
                    problems.append(f"{url}: status {response.status}")
        except urllib.error.HTTPError as error:
            problems.append(f"{url}: status {error.code}")
        except OSError as error:
            problems.append(f"{url}: {error}")
    return problems


def h1_texts(driver) -> list[str]:
    """The text of each h1, without Material's permalink sign."""
    texts = driver.execute_script("return Array.from(document.querySelectorAll('h1')).map(h => h.textContent);")
    return [text.replace("¶", "").strip() for text in texts]


def all_search_result_links(driver) -> list[str]:
    """The href of every link in Material's search results; they render in batches as the list scrolls."""
    shown = -1
    while True:
        hrefs = driver.execute_script(
            "return Array.from(document.querySelectorAll('.md-search-result__item a')).map(a => a.href);")
        if len(hrefs) == shown:
            return hrefs
        shown = len(hrefs)
        driver.execute_script("const wrap = document.querySelector('.md-search__scrollwrap');"
                              "if (wrap) wrap.scrollTop = wrap.scrollHeight;")
        time.sleep(0.5)


def _offline_hint(messages: list[str]) -> str:
    if any("ERR_NAME_NOT_RESOLVED" in message for message in messages):
        return ("\n(the browser reaches only 127.0.0.1: the site must not load anything from the network;"
                " Material's Google fonts are turned off with `theme: font: false` in mkdocs.yml)")
    return ""


def save_screenshot(driver, page: str) -> Path:
    """A PNG of the current page in the artifacts folder, named after ``page``."""
    folder = Path(os.environ.get("REPALIGN_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts" / "docs-browser")
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", page.replace(".html", "")).strip("-") or "index"
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"the screenshot of {page} could not be written to {path}"
    print(f"screenshot: {path}")
    return path


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def docs_site(tmp_path_factory) -> Path:
    """The built site: REPALIGN_DOCS_SITE if set, else ``mkdocs build --strict`` into a temporary folder."""
    prebuilt = os.environ.get("REPALIGN_DOCS_SITE")
    if prebuilt:
        site = Path(prebuilt)
        assert (site / "index.html").is_file(), f"REPALIGN_DOCS_SITE={prebuilt} holds no index.html"
        return site
    config = Path(os.environ.get("REPALIGN_DOCS_CONFIG") or ROOT / "mkdocs.yml")
    beside_python = Path(sys.executable).with_name("mkdocs")
    mkdocs = str(beside_python) if beside_python.exists() else shutil.which("mkdocs")
    if not mkdocs:
        reason = "no mkdocs to build the site (pip install -e '.[docs]', or set REPALIGN_DOCS_SITE)"
        if _browser_required():
            pytest.fail(f"REPALIGN_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    command = [mkdocs, "build", "--strict", "-f", str(config), "-d", str(tmp_path_factory.mktemp("docs") / "site")]
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, env=environment)
    if build.returncode != 0:
        tail = "\n".join((build.stdout + build.stderr).splitlines()[-40:])
        pytest.fail(f"`{' '.join(command)}` failed with status {build.returncode}:\n{tail}", pytrace=False)
    return Path(command[-1])


@pytest.fixture(scope="session")
def site_url(docs_site):
    with serve(docs_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


# --------------------------------------------------------------------------------------------------
# The site
# --------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_errors(browser, site_url, docs_site, page):
    target = docs_site / (page if page.endswith(".html") else page + "index.html")
    assert target.is_file(), f"the site has no {page} ({target} is missing)"
    open_page(browser, urllib.parse.urljoin(site_url, page))
    broken = broken_images(browser)
    math = unrendered_math(browser)
    save_screenshot(browser, page)
    headings = h1_texts(browser)
    severe = severe_console_messages(browser)

    problems = []
    if not headings:
        problems.append("no <h1>")
    if severe:
        problems.append("SEVERE console messages:\n  " + "\n  ".join(severe) + _offline_hint(severe))
    if broken:
        problems.append(f"images that did not load: {broken}")
    if math:
        problems.append(f"math KaTeX did not render: {math[:5]}" + (f" and {len(math) - 5} more" if len(math) > 5 else ""))
    if page == "measures/":
        # in the page's content: Material's navigation may list the cards whatever the page says
        hrefs = browser.execute_script(
            "return Array.from(document.querySelectorAll('.md-content a[href]')).map(a => a.href);")
        for name in CARDS:
            card = urllib.parse.urljoin(site_url, f"measures/{_card_slug(name)}/")
            if not any(href.split("#")[0] == card for href in hrefs):
                problems.append(f"the measure index does not link to the card of {name} ({card})")
    if page.startswith("measures/") and page != "measures/":
        canonical = next(name for name in CARDS if page == f"measures/{_card_slug(name)}/")
        expected = CARDS[canonical]
        if headings and headings[0] != expected:
            problems.append(f"the card's h1 is {headings[0]!r}, expected {expected!r}")
        if image_count(browser) < 1:
            problems.append("a measure card without a figure")
        links = csv_links(browser)
        if not links:
            problems.append("a measure card without a link to its CSV data")
        unanswered = unreachable(links)
        if unanswered:
            problems.append("CSV links the server does not return:\n  " + "\n  ".join(unanswered))
    assert not problems, f"{page}:\n" + "\n".join(problems)


@pytest.mark.slow
def test_search_finds_a_measure_card(browser, site_url, docs_site):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    index = docs_site / "search" / "search_index.json"
    assert index.is_file(), f"the site has no search index ({index}): is the `search` plugin in mkdocs.yml?"
    open_page(browser, urllib.parse.urljoin(site_url, "index.html"))
    field = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    if not field.is_displayed():  # narrow layout: the search sits behind the header's button
        browser.find_element(By.CSS_SELECTOR, "label[for='__search']").click()
    field.click()
    field.send_keys("procrustes")
    try:
        WebDriverWait(browser, 20).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, ".md-search-result__item"))
    except TimeoutException:
        save_screenshot(browser, "search-procrustes")
        severe = severe_console_messages(browser)
        pytest.fail("no search results for 'procrustes' within 20 s; SEVERE console messages: "
                    + ("\n".join(severe) or "none"))
    save_screenshot(browser, "search-procrustes")
    hrefs = all_search_result_links(browser)
    assert any(SEARCH_TARGET in href for href in hrefs), (
        f"no search result for 'procrustes' links to {SEARCH_TARGET}; results: {hrefs}")


# --------------------------------------------------------------------------------------------------
# The checks themselves fail when they should
# --------------------------------------------------------------------------------------------------

def _png(width: int, height: int) -> bytes:
    """A valid RGB PNG of one colour (written here, so the self-test needs no image library)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\x30\x3f\x9f" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_the_checks_report_broken_pages(browser, tmp_path):
    (tmp_path / "pixel.png").write_bytes(_png(8, 6))
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "broken.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body><h1>Broken ¶</h1>"
        "<img src='pixel.png'><img src='missing.png'>"
        "<span class='arithmatex'>\\(x^2\\)</span>"
        "<a href='data.csv'>data</a> <a href='gone.csv'>gone</a> <a href='page.html'>page</a>"
        "</body></html>", encoding="utf-8")
    (tmp_path / "console.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body><h1>Console</h1>"
        "<script>console.error('boom from the self-test'); console.log('harmless');</script></body></html>",
        encoding="utf-8")
    with serve(tmp_path) as url:
        open_page(browser, url + "broken.html")
        assert h1_texts(browser) == ["Broken"]
        broken = broken_images(browser)
        assert image_count(browser) == 2
        assert broken == [url + "missing.png"], broken
        assert unrendered_math(browser, timeout=0.5) == ["\\(x^2\\)"]
        links = csv_links(browser)
        assert links == [url + "data.csv", url + "gone.csv"], links
        assert unreachable(links) == [f"{url}gone.csv: status 404"]

        open_page(browser, url + "console.html")
        severe = severe_console_messages(browser)
        assert any("boom from the self-test" in message for message in severe), severe
        assert not any("harmless" in message for message in severe), severe
        assert not any("missing.png" in message for message in severe), "the previous page's messages leaked"
