"""The codec layer: LZW over token ids (reference, compiled kernels, validated ``LZWCodec``). Imports no torch
and nothing else of zip2zip but ``registry``, so it is testable in milliseconds.
"""
