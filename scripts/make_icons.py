"""Draw the app's PNG icons from its SVGs (helpdesk/static/helpdesk/icons/), in Chromium.

    .venv/bin/python scripts/make_icons.py

The PNGs are committed; run this again only after changing an SVG. Uses Playwright and
Debian's Chromium (/usr/bin/chromium), as the browser tests do: nothing else to install.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

ICONS = Path(__file__).resolve().parent.parent / "helpdesk" / "static" / "helpdesk" / "icons"
# (file, source, size): the manifest's icons, the maskable one (full bleed: Android cuts its
# own shape), iOS's home-screen icon (opaque: iOS rounds the corners itself) and a favicon.
WANTED = [
    ("icon-192.png", "icon.svg", 192),
    ("icon-512.png", "icon.svg", 512),
    ("icon-maskable-512.png", "maskable.svg", 512),
    ("apple-touch-icon.png", "maskable.svg", 180),
    ("icon-32.png", "icon.svg", 32),
]


def main() -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for name, source, size in WANTED:
            page = browser.new_page(viewport={"width": size, "height": size})
            svg = (ICONS / source).read_text()
            page.set_content(
                "<style>html,body{margin:0;background:transparent}svg{display:block;"
                f"width:{size}px;height:{size}px}}</style>{svg}"
            )
            page.screenshot(path=str(ICONS / name), omit_background=True)
            page.close()
            print(f"{name}: {size}x{size}")
        browser.close()


if __name__ == "__main__":
    main()
