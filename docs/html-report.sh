#!/usr/bin/env bash
# Makes the README's screenshot of the HTML report again: runs the browser test of the
# demo's page with ESCAPE_GATE_BLESS=1, which writes docs/html-report.png (headless
# Chromium's screenshot of `escape-gate demo --format html`) and docs/html-report.html
# (that page, its Go and escape-gate versions replaced by placeholders). The test
# `html_report::the_readme_screenshot_shows_the_current_demo_page` fails until both are
# made again after the page changes. Needs Go and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
ESCAPE_GATE_BLESS=1 cargo test --locked --test main -- --exact browser::the_demo_page_in_a_browser
git status --short docs/
