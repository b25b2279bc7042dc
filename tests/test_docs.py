"""The README and docs/: their result tables are generated from docs/results.json (reprolib.results_tables), never
copied by hand, and every page the README links to exists."""
import json
import re
from pathlib import Path

import pytest

from reprolib import findings, results_tables

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads((REPO / "docs" / "results.json").read_text())


def test_the_results_page_and_the_readme_headline_are_the_generated_ones(results):
    """`make docs` writes both from docs/results.json; a figure edited by hand, or a results.json replaced without
    regenerating them, fails here."""
    assert (REPO / "docs" / "results.md").read_text() == results_tables.results_page(results)
    readme = (REPO / "README.md").read_text()
    assert readme == results_tables.with_headline(readme, results)
    assert readme == findings.with_findings(readme, results)
    assert results_tables.NOT_MEASURED not in results_tables.headline(results)  # a full run, every headline row


def test_write_docs_refuses_a_readme_without_its_block_and_writes_nothing(tmp_path, results):
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "README.md").write_text("# no block here\n")
    with pytest.raises(ValueError, match="no headline block"):
        results_tables.write_docs(tmp_path / "results.json", tmp_path, tmp_path / "README.md")
    assert not (tmp_path / "results.md").exists()


def test_every_page_the_readme_links_to_exists():
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if not link.startswith("http"):
            assert (REPO / link).exists(), link
