"""Inserting Videos into Videos (Lee, Pfister, Yang; CVPR 2019) in miniature: the lit world of fake and real
pairs (``pairs``), the blending generator and the two discriminators (``nets``), their losses (``losses``)
and the measurements on held-out pairs (``metrics``)."""
