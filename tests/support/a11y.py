"""Checks a page must pass at every size: axe-core's audit, no sideways scrolling, touch targets.

axe-core is vendored for the tests only (tests/support/vendor, pinned like htmx). The page's CSP
forbids injected scripts, so contexts that audit are made with bypass_csp=True.
"""
from pathlib import Path

AXE = Path(__file__).with_name("vendor") / "axe-core-4.14.1.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
NARROWEST = {"width": 360, "height": 740}

# What a finger taps: controls, and links that stand alone (tabs, menus, breadcrumbs, buttons).
# Links inside a sentence are exempt (WCAG 2.5.5's inline exception); a checkbox is tapped
# through its label, so the label is what is measured.
TOUCH_TARGETS = ("button, select, summary, input:not([type=hidden]), .btn, .icon-btn, "
                 ".tabs a, .breadcrumbs a, .site-menu a, [role=switch]")
MIN_TARGET_PX = 44


def axe_violations(page):
    """Run axe-core on the page as it is now; return its violations, one line per element."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                           AXE_TAGS)
    return [f"{v['id']} ({v['impact']}): {node['target']} — {node['failureSummary']}"
            for v in result["violations"] for node in v["nodes"]]


def horizontal_overflow(page):
    """Return how many pixels the page is wider than the window (0 when nothing scrolls
    sideways), naming the widest elements that stick out."""
    return page.evaluate("""() => {
        const excess = document.documentElement.scrollWidth - window.innerWidth;
        if (excess <= 0) return null;
        const culprits = [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
        return {excess, culprits};
    }""")


def small_touch_targets(page):
    """Return the visible controls smaller than 44 × 44 CSS pixels (WCAG 2.5.5)."""
    return page.evaluate("""([selector, minimum]) => [...document.querySelectorAll(selector)]
        .map(el => (el.type === 'checkbox' && el.labels.length) ? el.labels[0] : el)
        .filter(el => el.checkVisibility())
        .map(el => [el, el.getBoundingClientRect()])
        .filter(([el, box]) => box.width < minimum || box.height < minimum)
        .map(([el, box]) => `${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 30)}"`
                             + ` ${Math.round(box.width)}x${Math.round(box.height)}`)""",
                         [TOUCH_TARGETS, MIN_TARGET_PX])


def problems(page, *, phone=False):
    """Everything wrong with the page as it is now, as readable lines (empty when all is well)."""
    found = [f"axe: {line}" for line in axe_violations(page)]
    overflow = horizontal_overflow(page)
    if overflow:
        found.append(f"scrolls sideways by {overflow['excess']} px: {overflow['culprits']}")
    if phone:
        found += [f"touch target too small: {line}" for line in small_touch_targets(page)]
    return found
