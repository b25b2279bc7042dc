"""reprolib: a read-and-run reproduction of Deep Exemplar-based Colorization (He et al., SIGGRAPH 2018)
and of the pair-discriminator trick of Inserting Videos into Videos (Lee et al., CVPR 2019).

One module per idea, data flowing one way:
image file -> ``photos`` -> ``color`` (sRGB <-> Lab) -> features -> matching -> colornet -> ``color``.
"""
__version__ = "0.1.0"
