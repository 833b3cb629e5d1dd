"""The README's code blocks, so the tests can run its examples as they are written."""

from __future__ import annotations

from tests.support.render import ROOT

README = ROOT / "README.md"


def readme_block(heading: str, language: str) -> str:
    """The first ``language`` code block after the paragraph starting with ``heading``."""
    text = README.read_text()
    start = text.index(f"```{language}\n", text.index(heading)) + len(language) + 4
    return text[start : text.index("```", start)]
