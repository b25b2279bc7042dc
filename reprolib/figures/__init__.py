"""Every figure, in one place: ``plots`` (matching, colorization, photos, the pages' panel, the report),
``lab`` (Lab colour, notebook 01), ``curves`` (the loss curves of the shipped trainings) and ``diagrams`` (DEC's
pipeline). Figures draw what the library and the studies computed; they compute nothing of their own that a
number depends on."""
