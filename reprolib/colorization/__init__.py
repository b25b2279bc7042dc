"""Deep Exemplar-based Colorization (He et al., SIGGRAPH 2018), in the order data flows:

``features`` (gray-VGG on T_L) and ``extractors`` (which gray-VGG: the registry) -> ``matching``
(phi_T->R, phi_R->T, R'_ab, sim_T<->R: the similarity sub-net) -> ``colornet`` (the colorization sub-net
and its 13-channel input) -> ``colorize`` (the whole pipeline on a photo). Beside it: ``losses`` (the
two training branches), ``retrieval`` (which reference), ``welsh`` (the Welsh et al. 2002 baseline).
"""
