"""The data layer: base tokenizers, text corpora (hub or packaged offline stand-ins), chunking into compressed
training sequences. Builds on the codec; imports no torch.
"""
