"""Training: one resumable loop (``loop``) and one trainer per model, each a config, a build and a step:
``grayvgg`` (the small gray-VGG), ``colornet`` (the colorization sub-net's two branches), ``insertion``
(the insertion GAN with or without the pair discriminator), ``colour_classifier`` (the judge of notebook 03)."""
