"""The synthetic world: semantic classes with their own luminance textures, palettes that share L*, and
target/reference pairs whose ground truth is known (``scenes``; ``classes`` and ``layouts`` behind it)."""
