"""reprolib: a read-and-run reproduction of Deep Exemplar-based Colorization (He et al., SIGGRAPH 2018)
and of the pair-discriminator trick of Inserting Videos into Videos (Lee et al., CVPR 2019).

One subpackage per part of the architecture, data flowing one way:

* ``core``: colour (sRGB <-> Lab), photos, files, validators, the weights loader, seeds;
* ``world``: the synthetic world with known ground truth;
* ``colorization``: the paper's pipeline, image -> gray-VGG features -> matching (the similarity
  sub-net) -> colornet (the colorization sub-net) -> colour;
* ``insertion``: Inserting Videos into Videos in miniature;
* ``training``: one resumable loop and a trainer per model;
* ``studies``: the experiments that ``reproduce`` runs, and every figure;
* on top: ``cli`` (``python -m reprolib``), ``reproduce``, ``registry`` (``models``), ``picker``.
"""
__version__ = "0.1.0"
