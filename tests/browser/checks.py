"""What every page of the dashboard must be, checked in the browser:

- nothing wider than the screen (no sideways scroll);
- no English on a page in Portuguese: every word a person reads or hears (text,
  labels, placeholders, tooltips, the options of a select) is checked against the
  English the app knows (the msgids of its catalog) and common English words,
  minus every word of the Portuguese catalog. Names, addresses, code and what a
  server answered are the user's or the server's, not ours: the pages mark them
  translate="no" (HTML's own "do not translate this"), and the check skips them;
- axe-core finds no serious or critical violation. axe-core (MPL-2.0, vendored
  from the npm registry in vendor/) is injected by the test through the DevTools
  protocol; the app never loads it.
"""
import re
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from chronoflow import i18n

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# Names and abbreviations that stay as they are in Portuguese.
ALLOWED = {"whatsapp", "chronoflow", "http", "https", "url", "urls", "json", "api", "webhook", "webhooks", "cron",
           "qr", "waha", "plus", "core", "default", "id", "ms", "s", "mb", "dns", "get", "post", "put", "patch",
           "delete", "head", "options", "iphone", "android", "ok", "token", "tokens", "admin", "authorization",
           "bearer", "cf", "g", "us", "c", "english", "openapi", "x", "e", "max", "outbound", "allowed", "networks",
           "message", "daily", "cap", "methods", "key", "base", "readme", "signed", "csrf", "utc", "h"}
# English words no Portuguese page should show, besides the catalog's own.
COMMON = set("""
the a an of to and or not is are was were be been being it its this that these those with without for from by on
at in into as if then than but no yes all any each every some more most less other another same such only also
just yet still again here there when while where what which who whom whose why how can could may might must shall
should will would do does did done has have had having you your we our they their he she his her
error errors failed failure success successful pending running retrying cancelled skipped paused active never
connection refused reset closed timeout timed out server service known name unexpected end template expected print
statement support session sessions status starting working stopped recipient recipients sent sending send not
number phone request response body headers header method schedule run runs attempt attempts duration started
finished late next last scheduled chrono chronos settings sign password user users new edit save create cancel
test now ago seconds minutes hours days second minute hour day week month year today tomorrow yesterday please
try again later wait loading network unreachable denied forbidden found invalid missing required empty
""".split())
URLISH = re.compile(r"https?://\S+|\b[\w.+-]+@[\w.-]+\b|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\b[\w-]+(?:\.[\w-]+)+\b")

# Every word a person meets on the page, skipping what is marked translate="no",
# code, and what is not rendered (hidden, inside a closed <details>).
VISIBLE_WORDS = """() => {
  const skip = el => el.closest('[translate="no"], code, pre, textarea, script, style, noscript, template');
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || skip(el) || !node.textContent.trim()) continue;
    if (el.closest('svg')) {
      // A chart's tooltips: plain text, where what a server said is quoted “…”.
      if (el.closest('title')) parts.push(node.textContent.replace(/“[^”]*”/g, ' '));
      continue;
    }
    if (el.tagName === 'OPTION') { parts.push(node.textContent); continue; }
    if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) continue;
    parts.push(node.textContent);
  }
  for (const el of document.querySelectorAll('[title], [aria-label], [placeholder], img[alt]')) {
    if (skip(el)) continue;
    for (const name of ['title', 'aria-label', 'placeholder', 'alt']) {
      if (el.getAttribute(name)) parts.push(el.getAttribute(name));
    }
  }
  parts.push(document.title);
  return parts.join('\\n');
}"""


@cache
def english_words():
    with open(i18n.TRANSLATIONS_DIR / "pt_BR" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po)
    english, portuguese = set(COMMON), set()
    for message in catalog:
        if not message.id:
            continue
        for source, into, placeholders in ((message.id, english, ENGLISH_PLACEHOLDERS),
                                           (message.string, portuguese, PLACEHOLDER)):
            for text in source if isinstance(source, tuple) else (source,):
                into.update(word.lower() for word in WORD.findall(placeholders.sub(" ", text or "")))
    return frozenset(english - portuguese - ALLOWED)


PLACEHOLDER = re.compile(r"%\(\w+\)s")
# A msgid's template variables ({{ date }}) are names; the Portuguese ones are words.
ENGLISH_PLACEHOLDERS = re.compile(r"%\(\w+\)s|\{\{.*?\}\}|\{%.*?%\}")


def english_on(page):
    """The English words found on `page` (which should be in Portuguese), each with some context."""
    text = URLISH.sub(" ", page.evaluate(VISIBLE_WORDS))
    known = english_words()
    found = []
    for line in text.splitlines():
        for word in WORD.findall(line):
            if word.lower() in known:
                found.append(f"{word!r} in {line.strip()[:120]!r}")
    return found


def overflow(page):
    """How many pixels wider than the screen the page is (0: no sideways scroll)."""
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - innerWidth")


def axe_violations(page, impacts=("serious", "critical")):
    """axe-core's violations of `impacts` on the page: ["rule-id: help (target, ...)"]."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # through the DevTools protocol: the page's CSP does not apply
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'])}" for v in result
            if v["impact"] in impacts]


def assert_page_is_right(page, portuguese=False):
    """No sideways scroll, no serious accessibility problem, and in Portuguese no English."""
    where = page.url
    wider = overflow(page)
    assert wider <= 0, f"{where} is {wider}px wider than the screen"
    violations = axe_violations(page)
    assert not violations, f"axe on {where}:\n" + "\n".join(violations)
    if portuguese:
        english = english_on(page)
        assert not english, f"English on {where}:\n" + "\n".join(english)
