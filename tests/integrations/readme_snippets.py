"""Run the code the README shows under "Use with other libraries", so it cannot go stale."""

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def run_use_with_snippet(heading: str) -> dict:
    """Run the Python block under ``### {heading}`` in the README; return its namespace."""
    text = README.read_text().split("## Use with other libraries\n", 1)[1].split("\n## ", 1)[0]
    section = text.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {"__name__": "use_with_snippet"}
    exec(compile(code, f"README.md ({heading})", "exec"), namespace)
    return namespace
