"""A real browser for the studio (``realtime-style serve``): the system's Chromium (Debian's
``chromium`` package; never a downloaded one), driven by Playwright, with a fake camera that
plays a .y4m file made from generated pictures. Used by tests/test_serve_browser.py and by
studio_load.py; ``chromium()`` says why not where it cannot run."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
         # several studio pages in one browser: none of them is throttled as a background tab
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows"]


def chromium() -> tuple[str | None, str]:
    """(the Chromium executable, "") or (None, why it cannot be used here)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, "playwright is not installed (pip install playwright; no browser download needed)"
    for path in CANDIDATES:
        if Path(path).is_file():
            return path, ""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found, ""
    return None, "no Chromium here (apt-get install chromium)"


def write_y4m(path: Path, pictures: Iterable[np.ndarray], fps: int = 30) -> Path:
    """RGB pictures (all one size, even sides) as a 4:2:0 YUV4MPEG2 file, what Chromium's fake
    camera plays (in a loop)."""
    pictures = list(pictures)
    h, w = pictures[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in pictures:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def launch(playwright, executable: str, camera: Path):
    """A headless Chromium whose camera plays ``camera``."""
    return playwright.chromium.launch(executable_path=executable, headless=True,
                                      args=[*FLAGS, f"--use-file-for-fake-video-capture={camera}"])


def open_studio(browser, url: str, *, mirror: bool = False, resolution: str = "640x360", start: bool = True):
    """A new page on the studio at ``url``, its controls set, Start pressed."""
    # bypass_csp: the page forbids eval, which Playwright's wait_for_function uses for its predicates
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page.goto(url)
    page.wait_for_function("document.getElementById('style').options.length > 0", timeout=20_000)
    page.set_checked("#mirror", mirror)
    page.select_option("#resolution", resolution)
    if start:
        page.click("#start")
    return page


def stats(page) -> dict:
    return page.evaluate("window.studio.stats()")


def output_pixels(page) -> np.ndarray:
    """What #output shows now, as RGB."""
    import base64

    url = page.evaluate("document.getElementById('output').toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
