"""The training layer: compressed-sequence LM + reconstruction loss, resumable state and the training loop
(``python -m zip2zip.training``). Builds on the codec, data and model layers.
"""
