"""Every figure function of reprolib.figures draws on tiny inputs (nbval checks them in the
notebooks too)."""
import inspect

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from reprolib.colorization import matching
from reprolib.colorization.grayvgg_weights import grayvgg_small
from reprolib.core.seeds import heldout_seed
from reprolib.figures import curves, plots
from reprolib.figures import lab as lab_plots
from reprolib.studies import lab
from reprolib.world import scenes

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@pytest.fixture(scope="module")
def tiny():
    target, reference = scenes.sample_pairs(heldout_seed(3), 2, 32)
    outs = {"exact": matching.match(grayvgg_small(), target.L, reference.L, reference.ab)}
    rgb = torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(0))
    return target, reference, outs, rgb


def calls(tiny):
    target, reference, outs, rgb = tiny
    m = outs["exact"]
    C = len(scenes.CLASSES)
    fit = {"l1_prediction_a": 1.0, "l1_prediction_b": 2.0, "l2_prediction_a": 0.0, "l2_prediction_b": 0.0}
    ab = torch.zeros(2, 32, 32)
    return {
        "rgb_vs_lab_channels": (rgb,),
        "ab_planes": (lab.ab_planes((50.0,), 60.0), 60.0),
        "step_uniformity_plot": (lab.ramp_steps(4),),
        "regression_to_the_mean_plot": (((10.0, 0.0), (-10.0, 0.0)), 50.0, fit),
        "feature_maps": ({"relu1_1": torch.rand(1, 3, 8, 8)}, 2),
        "nn_label_transfer": (target, reference, {"exact": m.phi_TR}, C),
        "scene_grid": (target, C),
        "recolorings": ({"a": target.rgb[0], "b": reference.rgb[0]},),
        "photo_matches": (rgb, rgb, rgb, "warped"),
        "method_comparison": (target, reference, outs, C),
        "similarity_maps_plot": (m.sims[0], torch.zeros(32, 32, dtype=torch.bool), LAYERS),
        "roc_plot": ({"forward": (torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]), 0.5)},),
        "photo_methods": (target.L[:1], reference.rgb[0], {"exact": matching.Matched(*(x[:1] for x in m))}),
        "net_input_channels": (torch.rand(13, 16, 16), LAYERS),
        "two_branches": (target.L[0], ab, ab, ab, ab),
        "rows_figure": (target, reference, {"ground_truth": target.lab}),
        "image_rows": ({"row": target.rgb}, 2),
        "panel_figure": ({k: rgb for k in ("target", "reference", "warped", "result")} | {"similarity": rgb[:1]},
                         "title"),
        "similarity_figure": (m.sims[0], LAYERS),
        "field_figure": (m.phi_TR[0], reference.rgb[0]),
        "photo_gallery": ([(target.lab[:1], reference.lab[:1], m.R_ab_warped[:1], m.R_ab_warped[:1])], ["pair"]),
        "loss_curves": ({"run": {"every": 2, "series": {"loss.a": [[0, 2.0], [2, 1.0]], "loss.b": [[0, 3.0]]}}},),
        "scaling_plot": ({f"photo/{k}/{n}x{n}": {"extractor": "photo", "method": k, "megapixels": n * n / 1e6,
                                                 "colorize_s": n / 100, "features_s": n / 300}
                          for k in ("exact", "patchmatch") for n in (256, 512)} | {"x": {"skipped": "over budget"}},),
    }


def test_every_figure_function_draws(tiny):
    modules = {name: module for module in (plots, lab_plots, curves)
               for name, f in inspect.getmembers(module, inspect.isfunction)
               if f.__module__ == module.__name__ and not name.startswith("_")
               and inspect.signature(f).return_annotation in (Figure, "Figure")}  # not the helpers (plots.show)
    todo = calls(tiny)
    assert set(modules) == set(todo), "add the new figure function to this smoke test"
    for name, args in todo.items():
        fig = getattr(modules[name], name)(*args)
        assert isinstance(fig, Figure) and fig.axes, name
        plt.close(fig)


def test_the_pipeline_diagram_names_every_stage_with_the_papers_symbols():
    from reprolib.figures import diagrams

    texts = " ".join(t.get_text() for t in diagrams.dec_pipeline().axes[0].texts)
    for symbol in ("$T_L$", "R'_{ab}", "\\phi_{T\\to R}", "sim_{T\\leftrightarrow R}", "P_{Lab}", "T'_{ab}", "relu5_1"):
        assert symbol in texts, symbol
    inference = " ".join(t.get_text() for t in diagrams.dec_pipeline(training=False).axes[0].texts)
    assert "chrominance branch" in texts and "chrominance branch" not in inference
