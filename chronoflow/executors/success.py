"""Whether an answer counts as success: a webhook chrono's success rules.

A chrono without rules (its `success` is null) succeeds on 2xx and 3xx, and its
body is never read beyond the snippet. With rules, three may be set, checked in
this order, and the first that fails is the run's error ("success_rule", with
the rule's name and what was expected):

- statuses: a list of codes and ranges, "200-299,404";
- body_contains: a text the body must contain;
- json_pointer (+ json_equals): a value in the JSON body, by RFC 6901 pointer
  ("/data/status"), that must exist, and equal json_equals when that is set.

Body rules read at most BODY_LIMIT bytes: what a target sends past it is not
looked at (the transport has cut the body at RESPONSE_MAX_BYTES already).
"""
import json
import re
from dataclasses import dataclass

BODY_LIMIT = 65536
DEFAULT_STATUSES = ((200, 399),)
STATUS_ITEM = re.compile(r"^\s*([1-5]\d\d)\s*(?:-\s*([1-5]\d\d)\s*)?$", re.ASCII)
MISSING = object()


class RuleError(ValueError):
    """A rule that cannot be read; `words` is a msgid with `params`, said by the caller."""


def parse_statuses(text):
    """"200-299, 404" -> ((200, 299), (404, 404)). Raises ValueError."""
    ranges = []
    for item in str(text).split(","):
        found = STATUS_ITEM.match(item)
        if not found:
            raise ValueError(item.strip())
        low = int(found.group(1))
        high = int(found.group(2) or low)
        if high < low:
            raise ValueError(item.strip())
        ranges.append((low, high))
    return tuple(ranges)


def parse_pointer(pointer):
    """RFC 6901: "/a/b~1c/0" -> ["a", "b/c", "0"]; "" is the whole document. Raises ValueError."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(pointer)
    parts = pointer[1:].split("/")
    if any(re.search(r"~(?![01])", part) for part in parts):
        raise ValueError(pointer)
    return [part.replace("~1", "/").replace("~0", "~") for part in parts]


def resolve(document, steps):
    """The value at `steps` in `document`, or MISSING."""
    for step in steps:
        if isinstance(document, dict):
            document = document.get(step, MISSING)
        elif isinstance(document, list) and step.isdecimal() and (step == "0" or not step.startswith("0")):
            index = int(step)
            document = document[index] if index < len(document) else MISSING
        else:
            return MISSING
        if document is MISSING:
            return MISSING
    return document


@dataclass(frozen=True)
class Rules:
    """A chrono's rules, read once when a call is prepared."""

    statuses: tuple = DEFAULT_STATUSES
    statuses_text: str = "200-399"
    body_contains: str | None = None
    pointer: tuple | None = None
    pointer_text: str | None = None
    has_expected: bool = False
    expected: object = None

    @classmethod
    def load(cls, stored):
        """Rules from a chrono's `success` column; None when there are none."""
        if not stored:
            return None
        statuses = stored.get("statuses")
        pointer = stored.get("json_pointer")
        return cls(
            statuses=parse_statuses(statuses) if statuses else DEFAULT_STATUSES,
            statuses_text=statuses or "200-399",
            body_contains=stored.get("body_contains") or None,
            pointer=tuple(parse_pointer(pointer)) if pointer is not None else None,
            pointer_text=pointer,
            has_expected="json_equals" in stored,
            expected=stored.get("json_equals"),
        )

    @property
    def reads_body(self):
        return self.body_contains is not None or self.pointer is not None

    def status_ok(self, status):
        return any(low <= status <= high for low, high in self.statuses)

    def failure(self, status, body, encoding):
        """None when the answer passes; else (rule, params) of the first rule it fails."""
        if not self.status_ok(status):
            return "status", {"status": status, "expected": self.statuses_text}
        if not self.reads_body:
            return None
        text = body[:BODY_LIMIT].decode(encoding, errors="replace")
        if self.body_contains is not None and self.body_contains not in text:
            return "body_contains", {"expected": self.body_contains}
        if self.pointer is not None:
            try:
                document = json.loads(text)
            except (ValueError, RecursionError):
                return "json", {"pointer": self.pointer_text, "found": "not_json"}
            value = resolve(document, self.pointer)
            if value is MISSING:
                return "json", {"pointer": self.pointer_text, "found": "missing"}
            if self.has_expected and not _same(value, self.expected):
                return "json", {"pointer": self.pointer_text, "expected": json.dumps(self.expected)[:200],
                                "actual": json.dumps(value)[:200]}
        return None


def _same(a, b):
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b
