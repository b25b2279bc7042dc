"""The pickers: the colour-your-own-photos page (``page``, served by ``make picker``) and notebook 03's exemplar
picker (``picker``) share one session (``session``: a target, its references ranked by retrieval, the gray-VGG and
the net) and one panel; ``uploads`` checks what a visitor brings."""
