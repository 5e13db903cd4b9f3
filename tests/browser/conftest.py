"""Browser-test harness for the built HTML book.

Fixtures
--------
built_book
    ``Path`` of the built HTML (``_build/html``, or ``$NNDL_BOOK_HTML``).  Skipped
    when it does not exist, unless ``$CI`` is set: in CI a missing build fails.
book_server
    Base URL (``http://127.0.0.1:PORT/``) of a ``ThreadingHTTPServer`` serving
    ``built_book`` from a thread, for the whole session.
browser
    Headless Debian Chromium (``/usr/bin/chromium`` or ``$NNDL_CHROMIUM``) driven
    by Playwright's sync API; launched once per session.
page_visit
    ``page_visit(url)`` opens ``url`` in a fresh browser context and returns a
    :class:`Visit`: every request, failed requests, responses with status >= 400,
    requests that left the local server (they are aborted, never sent), console
    errors and page errors, plus the open Playwright ``page`` for further checks.
browser_report
    ``browser_report(line)`` adds a line to the section "browser tests: page
    weights and timings" printed at the end of the session (page weights, time
    per app).

Helpers: :func:`toc_docnames` lists the pages of ``_toc.yml``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("NNDL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = bool(os.environ.get("CI"))


def book_html_dir() -> Path:
    """The built HTML book: ``$NNDL_BOOK_HTML`` or ``_build/html`` of this checkout."""
    return Path(os.environ.get("NNDL_BOOK_HTML", ROOT / "_build" / "html")).resolve()


def toc_path() -> Path:
    """``_toc.yml`` of the book that was built (``<source>/_build/html`` -> ``<source>``)."""
    candidate = book_html_dir().parent.parent / "_toc.yml"
    return candidate if candidate.is_file() else ROOT / "_toc.yml"


def toc_docnames(toc: Path | None = None) -> list[str]:
    """Docnames (``book/06_batchnorm``) of the root and every ``file:`` of the toc."""
    text = (toc or toc_path()).read_text(encoding="utf-8")
    names = re.findall(r"^\s*(?:root|-?\s*file)\s*:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
    return [re.sub(r"\.(ipynb|md|rst)$", "", n) for n in names]


def skip_or_fail(reason: str) -> None:
    """Outside CI a missing prerequisite skips; in CI (``$CI`` set) it fails."""
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def built_book() -> Path:
    html = book_html_dir()
    if not (html / "index.html").is_file():
        skip_or_fail(f"no built book at {html}: run `make book` first (or set NNDL_BOOK_HTML)")
    return html


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass


@pytest.fixture(scope="session")
def book_server(built_book: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).is_file():
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Visit:
    """What the browser saw while loading one page."""

    url: str
    page: Any = None
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Every fault in one list, for a single readable assertion."""
        return (
            [f"failed request: {r}" for r in self.failed]
            + [f"HTTP error: {r}" for r in self.bad_responses]
            + [f"request leaving the local server: {r}" for r in self.external]
            + [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
        )


LOCAL_SCHEMES = ("data:", "blob:", "about:")


@pytest.fixture
def page_visit(browser: Any, book_server: str) -> Iterator[Callable[..., Visit]]:
    contexts: list[Any] = []

    def visit(url: str, wait_until: str = "networkidle", timeout_ms: float = 30_000) -> Visit:
        record = Visit(url=url)

        def is_local(u: str) -> bool:
            return u.startswith(book_server) or u.startswith(LOCAL_SCHEMES)

        def block(route: Any) -> None:
            record.external.append(route.request.url)
            route.abort("blockedbyclient")

        context = browser.new_context(service_workers="block")
        contexts.append(context)
        # Nothing may leave the local server; what tries to is recorded and aborted,
        # so an offline machine does not wait on DNS or connection timeouts.
        context.route(lambda u: not is_local(u), block)
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.on("request", lambda r: record.requests.append(r.url))
        page.on(
            "requestfailed",
            lambda r: is_local(r.url) and record.failed.append(f"{r.url} ({r.failure})"),
        )
        page.on(
            "response",
            lambda r: r.status >= 400 and record.bad_responses.append(f"{r.status} {r.url}"),
        )
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and record.console_errors.append(f"{m.text} @ {m.location.get('url', '')}")
            ),
        )
        page.on("pageerror", lambda e: record.page_errors.append(str(e)))
        page.goto(url, wait_until=wait_until)
        record.page = page
        return record

    yield visit
    for context in contexts:
        context.close()


@pytest.fixture
def browser_report(session_report) -> Callable[[str], None]:
    return functools.partial(session_report, "browser tests: page weights and timings")
