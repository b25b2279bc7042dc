"""The README's findings are filled from a run's results.json (reprolib.findings), never typed by hand."""
import copy
import json
from pathlib import Path

import pytest

from reprolib import findings

RUN = json.loads((Path(__file__).resolve().parents[1] / "docs" / "results.json").read_text())


@pytest.fixture
def results() -> dict:
    return copy.deepcopy(RUN)


def test_every_finding_is_filled_from_the_run(results):
    text = findings.findings(results)
    assert text.count("\n- ") + 1 == len(findings.FINDINGS) and findings.MISSING not in text
    assert "{" not in text and "}" not in text


def test_a_changed_figure_changes_the_findings(results):
    before = findings.findings(results)
    results["video"]["groups"]["generated"]["per_frame"]["warp_error"] = 9.876
    results["insertion"]["fair_test"]["with_pair_discriminator"]["holds"] = True
    after = findings.findings(results)
    assert "warp error x1000 9.88" in after and "9.88" not in before
    assert "the claim holds" in after and "the claim does not hold" in before


def test_a_run_without_a_section_says_so(results):
    del results["insertion"], results["video"]
    text = findings.findings(results)
    assert text.count(findings.MISSING) == 2 and "(notebook 05)" in text


def test_a_readme_without_the_block_is_refused():
    with pytest.raises(ValueError, match="no findings block"):
        findings.with_findings("# no block\n", RUN)
