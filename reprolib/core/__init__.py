"""Shared ground: colour (sRGB <-> CIE Lab), image files and photos, safe file writing, validators, the
weights registry's loader and provenance writer, the seed ranges that keep training and evaluation apart, where
the work runs (``--device``), and independent jobs side by side (``reproduce --jobs``)."""
