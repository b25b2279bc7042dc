"""reprolib: a read-and-run reproduction of Deep Exemplar-based Colorization (He et al., SIGGRAPH 2018)
and of the pair-discriminator trick of Inserting Videos into Videos (Lee et al., CVPR 2019).

One subpackage per part of the architecture, data flowing one way:

* ``core``: colour (sRGB <-> Lab), photos, files, validators, settings (configs), the weights loader, seeds;
* ``world``: the synthetic world with known ground truth, and views of photographs;
* ``colorization``: the paper's pipeline, image -> gray-VGG features -> matching (the similarity
  sub-net) -> colornet (the colorization sub-net) or the Chooser -> the three pipelines -> colorize;
* ``insertion``: Inserting Videos into Videos in miniature;
* ``figures``: every figure (they draw what the others computed);
* ``training``: one resumable loop, a trainer per model, and the photo protocol (splits, cache, evaluation);
* ``studies``: the experiments that ``reproduce`` runs;
* on top: ``ui`` (the photo page and the exemplar picker, one session), ``cli`` (``python -m reprolib``),
  ``reproduce``, ``results_tables`` (the tables of docs/results.md), ``registry`` (``models``).
"""
__version__ = "0.1.0"
