"""The page benchmarks' browser: a returning visitor's new tab reads the app's files from the HTTP cache (as an
everyday browser does), and every request to another host fails and is listed."""

from __future__ import annotations

import http.server
import os
import threading
from functools import partial

import pytest

pytest.importorskip("playwright")
from benchmarks import bench_pages  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(bench_pages.CHROMIUM), reason="no Chromium"),
]

PAGE = "<html><body><script src='app.js'></script><img src='https://example.com/icon.png'></body></html>"


class _CachedFiles(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Cache-Control", "max-age=3600")  # as Streamlit serves its hashed static files
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def site(tmp_path):
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "app.js").write_text("window.ran = true;\n" * 2000)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_CachedFiles, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


TRANSFERRED = "performance.getEntriesByType('resource').filter(r => r.name.endsWith('app.js'))[0].transferSize"


@pytest.mark.parametrize("cache", ["on", "off"])
def test_new_tabs_share_the_http_cache_and_other_hosts_fail(site, cache, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setattr(bench_pages, "HTTP_CACHE", cache == "on")
    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=bench_pages.CHROMIUM, args=bench_pages.CHROMIUM_ARGS)
        context = bench_pages.watched(browser.new_context(), blocked)
        sizes = []
        for _ in range(2):  # a visitor, then a new tab of the same browser
            page = context.new_page()
            page.goto(f"{site}/index.html", wait_until="load")
            assert page.evaluate("window.ran === true")
            assert page.evaluate("document.images[0].naturalWidth") == 0  # the other host's icon never arrived
            sizes.append(page.evaluate(TRANSFERRED))
            page.close()
        browser.close()
    assert sizes[0] > 20_000
    assert (sizes[1] == 0) if cache == "on" else (sizes[1] > 20_000)
    assert blocked == ["https://example.com/icon.png"] * 2
