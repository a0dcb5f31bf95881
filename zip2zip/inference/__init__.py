"""The inference layer: text <-> compressed ids (``Zip2ZipTokenizer``), online-compressed generation and
teacher-forced scoring. Builds on the codec and the model layer.
"""
