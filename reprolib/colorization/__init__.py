"""Deep Exemplar-based Colorization (He et al., SIGGRAPH 2018), in the order data flows:

``grayvgg`` (the gray-VGG on T_L) and ``grayvgg_weights`` (which gray-VGG: its registry entries and loaders)
-> ``matching`` (phi_T->R, phi_R->T, R'_ab, sim_T<->R: the similarity sub-net, each image's pyramid computed
once) -> ``colornet`` (the colorization sub-net and its 13-channel input) or ``chooser`` (the net that picks among
the warps of several matchers) -> ``pipelines`` (the three pipelines: warp_smoothed, colornet, chooser) ->
``colorize`` (validate, choose, run, upsample). Beside it: ``smoothing`` (edge-aware a*b* along T_L), ``losses``
(the two training branches), ``retrieval`` (which reference), ``welsh`` (the Welsh et al. 2002 baseline).
"""
