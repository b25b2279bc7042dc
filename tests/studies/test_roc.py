import pytest
import torch

from reprolib.colorization import grayvgg_weights
from reprolib.studies import agreement as metrics
from reprolib.studies import matchbench


def _brute_auc(s, y):
    pos, neg = s[y], s[~y]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).double() + 0.5 * (diff == 0).double()).mean().item()


def test_roc_auc_matches_the_pairwise_definition_with_ties():
    g = torch.Generator().manual_seed(0)
    s = torch.randint(0, 7, (300,), generator=g).float()  # many ties
    y = torch.rand(300, generator=g) < 0.3 + s / 20
    assert metrics.roc_auc(s, y) == pytest.approx(_brute_auc(s, y), abs=1e-12)
    assert metrics.roc_auc(torch.tensor([0.1, 0.2, 0.9, 0.8]), torch.tensor([0, 0, 1, 1])) == 1.0
    assert metrics.roc_auc(torch.tensor([0.9, 0.8, 0.1, 0.2]), torch.tensor([0, 0, 1, 1])) == 0.0


def test_roc_curve_runs_from_origin_to_one_and_its_area_is_the_auc():
    g = torch.Generator().manual_seed(1)
    s = torch.rand(5000, generator=g)
    y = torch.rand(5000, generator=g) < s
    fpr, tpr = metrics.roc_curve(s, y, points=401)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert (fpr.diff() >= 0).all() and (tpr.diff() >= 0).all()
    assert torch.trapezoid(tpr, fpr).item() == pytest.approx(metrics.roc_auc(s, y), abs=5e-3)


def test_roc_errors():
    with pytest.raises(ValueError, match="positives and negatives"):
        metrics.roc_auc(torch.rand(4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="NaN"):
        metrics.roc_auc(torch.tensor([0.1, float("nan")]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="same size"):
        metrics.roc_curve(torch.rand(4), torch.tensor([0, 1]))


def test_matching_study_on_a_few_pairs():
    res = metrics.matching_study(grayvgg_weights.grayvgg_small(), n_pairs=4, batch=4)
    for method, agreement in res["label_agreement"].items():
        assert res["chance"] + 0.3 < agreement <= 1, method
    assert 0.5 < res["bidirectional_auc"] <= 1 and 0.5 < res["forward_auc"] <= 1
    assert res["curves"]["correct"].numel() == 4 * 64 * 64


def test_matchbench_measures_in_a_fresh_process():
    res = matchbench.measure_in_subprocess("exact", size=32, repeats=1)
    assert res["seconds"] > 0 and res["peak_mb"] >= 0 and res["threads"] >= 1
    with pytest.raises(RuntimeError, match="failed"):
        matchbench.measure_in_subprocess("magic", size=32, repeats=1)
