"""Open every dashboard page in Chromium (Playwright) against a running server, in N browser sessions at once;
fail on a Streamlit exception or a page that never renders. Used by scripts/docker_check.sh.

    python scripts/docker_pages.py http://127.0.0.1:8599 5
"""

from __future__ import annotations

import sys
import time

from playwright.sync_api import sync_playwright

PAGES = ["", "noising", "train", "generate", "compare", "quantum_lab", "runs"]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def visit(page) -> str:
    """Wait for a page already navigated to: its app shell, then the end of its script run."""
    page.wait_for_selector("[data-testid='stApp']", timeout=120_000)
    deadline = time.time() + 120
    while time.time() < deadline:  # until the script run ends (no "Running..." widget)
        if page.locator("[data-testid='stStatusWidget']").count() == 0 and page.locator("h1").count() > 0:
            break
        time.sleep(0.5)
    if page.locator("[data-testid='stException']").count():
        return "exception"
    if page.locator("input[aria-label*='path' i], input[aria-label*='directory' i]").count():
        return "offers a server path"
    return "ok"


def upload_attack(browser, base: str) -> str:
    """Hosted: no 'File path' choice; an upload whose X_jets is stored in /etc/passwd is refused naming the upload."""
    import tempfile
    from pathlib import Path

    import h5py
    import numpy as np

    evil = Path(tempfile.mkdtemp()) / "evil.h5"
    with h5py.File(evil, "w") as f:
        f.create_dataset("X_jets", shape=(2, 8, 8, 3), dtype="f4", external=[("/etc/passwd", 0, h5py.h5f.UNLIMITED)])
        f["y"] = np.array([1.0, 0.0])
    page = browser.new_context().new_page()
    page.goto(base + "/", wait_until="domcontentloaded", timeout=120_000)
    visit(page)
    if page.get_by_text("File path", exact=True).count():
        return "the sidebar offers 'File path'"
    page.get_by_text("Upload", exact=True).first.click()
    page.wait_for_selector("input[type=file]", state="attached", timeout=60_000)
    page.set_input_files("input[type=file]", str(evil))
    alert = page.locator("[data-testid='stAlert']", has_text="external file")
    alert.first.wait_for(timeout=120_000)
    text = " ".join(alert.all_inner_texts())
    html = page.content()
    if "evil.h5" not in text or "/tmp" in text or "root:x:" in html:
        return f"upload message leaks or misnames: {text!r}"
    return "ok"


def main(base: str, sessions: int) -> int:
    failures = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        contexts = [browser.new_context() for _ in range(sessions)]
        pages = [c.new_page() for c in contexts]
        t0 = time.time()
        for name in PAGES:
            for page in pages:
                page.goto(f"{base}/{name}", wait_until="commit", timeout=120_000)  # all sessions load together
            for k, page in enumerate(pages):
                status = visit(page)
                if status != "ok":
                    failures.append(f"session {k} /{name}: {status}")
        print(
            f"{sessions} session(s): {len(PAGES)} pages each in {time.time() - t0:.0f} s; failures: {failures or 'none'}"
        )
        if sessions == 1:
            attack = upload_attack(browser, base)
            print(f"hosted upload of an external-storage file (/etc/passwd): {attack}")
            if attack != "ok":
                failures.append(attack)
        browser.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1))
