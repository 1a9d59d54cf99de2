"""The documentation keeps up with the code."""
from pathlib import Path

import pytest

from chronoflow.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("document", [".env.example", "README.md"])
def test_every_setting_is_documented(document):
    text = (ROOT / document).read_text()
    missing = [name for name in SETTINGS if name not in text]
    assert missing == [], f"{document} does not mention {missing}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "scripts/test" in readme and "scripts/run" in readme
    assert "scripts/test" in (ROOT / ".ci/run").read_text()
