"""The course site in a real browser (headless Chromium, off the network, pages opened from disk).

The site is built once for this module by ``course_utils.site.build_site`` with warnings as errors, from:
the course's eight notebooks as they are stored (their real prose, tiers, maths and cross-links, without
outputs), plus one small notebook written and executed here through ``course_utils.build`` (a matplotlib
figure, a tqdm progress bar, an ipywidgets button, one cell per tier), so that executed outputs are on a page
too — without running the whole course a second time (``make course`` builds the real site).
``COURSE_SITE_BUILD=build`` builds it from that folder of executed notebooks instead (e.g. after
``make course``). A screenshot of the 03 page is written to ``build/screenshots/site-03.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
from browser_support import chromium, require_browser

from course_utils import notebook_tools as nt
from course_utils import site

# Sphinx 9 deprecations inside sphinx-book-theme and myst-parser (their code, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Check CHANGES for Sphinx API modifications")

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
FIXTURE = "08_site_fixture.ipynb"
PAGE_03 = "notebooks/03_integrated_gradients.html"


def _fixture_notebook() -> nbformat.NotebookNode:
    cells = [
        nt.cell(
            "markdown", "# 08 · Site fixture\n\nA page the browser tests write and execute.", "essentials"
        ),
        nt.cell(
            "code",
            "import io\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "from IPython.display import Image\nfig, ax = plt.subplots(figsize=(3, 2))\n"
            "ax.plot([0, 1, 2], [0, 1, 4])\npng = io.BytesIO()\nfig.savefig(png, format='png')\n"
            "Image(png.getvalue())",
            "essentials",
        ),  # a PNG output whatever the kernel's backend
        nt.cell(
            "markdown", "## 🔵 Code to adapt\n\nA progress bar, as `explain()` shows one.", "practitioner"
        ),
        nt.cell(
            "code",
            "from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='fixture'):\n    pass",
            "practitioner",
        ),
        nt.cell("markdown", "## 🟣 The maths\n\n$$\\int_0^1 \\alpha \\, d\\alpha = \\tfrac12$$", "deep-dive"),
        nt.cell("code", "import ipywidgets\nipywidgets.Button(description='interactive')", "deep-dive"),
        nt.cell(
            "code",
            "from IPython.display import Markdown\nfrom course_utils.notebook_tools import doc_page\n"
            "Markdown(doc_page('cheatsheet'))",
            "deep-dive",
        ),  # links in an output, as notebook 00 shows them: the link check follows them
    ]
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i:03d}"
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The built site's folder."""
    require_browser()  # skip (or fail in CI) before spending a build on a machine without a browser
    tmp = tmp_path_factory.mktemp("site")
    source = os.environ.get("COURSE_SITE_BUILD")
    if source:
        executed = Path(source)
    else:
        from course_utils.build import execute_notebook

        executed = tmp / "executed"
        executed.mkdir()
        for path in nt.notebooks():
            shutil.copy(path, executed / path.name)
        (tmp / "fixture").mkdir()
        nbformat.write(_fixture_notebook(), str(tmp / "fixture" / FIXTURE))
        execute_notebook(tmp / "fixture" / FIXTURE, executed, timeout=300)
    index = site.build_site(executed, tmp / "site", src=tmp / "site-src", strict=True)
    return index.parent


@pytest.fixture(scope="module")
def browser(built):
    with chromium() as b:
        yield b


def _pages(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


def _url(root: Path, page: str) -> str:
    return (root / page).as_uri()


def test_every_page_loads_without_console_errors_or_external_requests(built, browser):
    pages = _pages(built)
    assert {"index.html", "glossary.html", "cheatsheet.html", "search.html", PAGE_03} <= {
        p.relative_to(built).as_posix() for p in pages
    }
    for page in pages:
        browser.page.goto(page.as_uri())
        browser.page.wait_for_load_state("load")
    assert browser.console_errors == []
    assert browser.external == []  # nothing from a CDN: the site works offline


def test_every_image_has_a_size(built, browser):
    images = 0
    for page in _pages(built):
        browser.page.goto(page.as_uri())
        browser.page.wait_for_load_state("load")
        sizes = browser.page.eval_on_selector_all(
            "img",
            "els => els.map(e => [e.getAttribute('src'), e.complete ? e.naturalWidth : -1, e.naturalHeight])",
        )
        bad = [s for s in sizes if s[1] <= 0 or s[2] <= 0]
        assert bad == [], f"{page.name}: images without a size {bad}"
        images += len(sizes)
    assert images > 0


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_internal_links_resolve(built):
    parsed = {p: _parse(p) for p in _pages(built)}
    broken, checked = [], 0
    for page, links in parsed.items():
        for link in links.links:
            url = urlparse(link)
            if url.scheme or link.startswith("//") or link.startswith("javascript:"):
                continue  # external (Colab, GitHub): followed by a person, not needed offline
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(built)} -> {link}")
            elif url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{page.relative_to(built)} -> {link} (no #{url.fragment})")
    assert broken == []
    assert checked > 100


def _visible(page, selector: str) -> list[bool]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.offsetParent !== null)")


def _tiers_shown(page) -> dict[str, int]:
    return page.evaluate("""() => {
        const out = {};
        for (const el of document.querySelectorAll('[data-course-tier]')) {
            if (el.closest('.bd-toc-nav')) continue;
            const tier = el.getAttribute('data-course-tier');
            out[tier] = (out[tier] || 0) + (el.offsetParent !== null ? 1 : 0);
        }
        return out;
    }""")


def test_path_switcher_hides_and_shows_the_cells_of_each_path(built, browser):
    page = browser.page
    page.goto(_url(built, PAGE_03))
    page.evaluate("localStorage.clear()")
    page.reload()
    nb = nbformat.read(str(nt.NOTEBOOK_DIR / "03_integrated_gradients.ipynb"), as_version=4)
    code_tiers = [nt.tier_of(c)[0] for c in nb.cells if c.cell_type == "code"]
    cells = page.eval_on_selector_all("div.cell", "els => els.map(e => e.getAttribute('data-course-tier'))")
    assert cells == code_tiers  # every code cell is on the page with its own tier
    everything = _tiers_shown(page)
    assert all(everything[t] > 0 for t in nt.TIERS)  # default: the deep-dive path shows every cell

    page.click(".course-paths button[data-path='essentials']")
    shown = _tiers_shown(page)
    assert (
        shown["essentials"] == everything["essentials"] and shown["practitioner"] == shown["deep-dive"] == 0
    )
    deep_heading = page.locator("article.bd-article h2", has_text="🟣").first
    assert not deep_heading.is_visible() and page.locator("article.bd-article h1").is_visible()
    toc_deep = page.locator(".bd-sidebar-secondary a", has_text="🟣")
    assert toc_deep.count() > 0 and not toc_deep.first.is_visible()  # the page's contents follow the path

    page.click(".course-paths button[data-path='practitioner']")
    shown = _tiers_shown(page)
    assert (
        shown["essentials"] == everything["essentials"]
        and shown["practitioner"] == everything["practitioner"]
    )
    assert shown["deep-dive"] == 0

    page.goto(_url(built, "notebooks/04_masking_attribution.html"))  # remembered on the next page
    assert page.get_attribute("html", "data-course-path") == "practitioner"
    assert page.get_attribute(".course-paths button[data-path='practitioner']", "aria-pressed") == "true"
    assert _tiers_shown(page)["deep-dive"] == 0

    page.click(".course-paths button[data-path='deep-dive']")
    assert all(v > 0 for v in _tiers_shown(page).values())
    page.evaluate("localStorage.clear()")


def test_colab_button_and_download_point_at_the_notebook(built, browser):
    for path in nt.notebooks():
        html = (built / "notebooks" / path.with_suffix(".html").name).read_text(encoding="utf-8")
        colab = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html))
        assert colab == {nt.badge_url(path.name)}
        downloads = set(re.findall(r'href="([^"]*_sources/notebooks/[^"]+\.ipynb)"', html))
        assert len(downloads) == 1
        target = (built / "notebooks" / downloads.pop()).resolve()
        assert nbformat.read(str(target), as_version=4).cells  # a notebook, downloadable from disk


def test_executed_outputs_are_on_the_page(built, browser):
    if os.environ.get("COURSE_SITE_BUILD"):
        pytest.skip("the fixture page exists only in the fixture build")
    page = browser.page
    page.goto(_url(built, f"notebooks/{Path(FIXTURE).stem}.html"))
    images = page.eval_on_selector_all("div.cell img", "els => els.map(e => e.getAttribute('src'))")
    assert len(images) == 1, images  # the matplotlib figure
    assert page.locator(".course-progress progress").get_attribute("value") == "3"
    assert page.locator(".course-interactive").is_visible()
    page.wait_for_function("() => document.querySelector('mjx-container') !== null")  # MathJax, from disk


def test_search_finds_completeness(built, browser):
    page = browser.page
    page.goto(_url(built, "search.html") + "?q=completeness")
    page.wait_for_selector("#search-results ul.search li", timeout=30000)
    hits = page.eval_on_selector_all(
        "#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))"
    )
    assert any("03_integrated_gradients" in h for h in hits)
    assert any("glossary" in h for h in hits)


def test_screenshot_of_the_03_page(built, browser):
    page = browser.page
    page.goto(_url(built, PAGE_03))
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOTS / "site-03.png"
    page.screenshot(path=str(out))
    assert out.stat().st_size > 10_000
