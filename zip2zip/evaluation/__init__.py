"""The evaluation layer: token-efficiency metrics, timing and what it times (decoders, device sync, peak memory,
the decode-step roofline), result files and the lm-eval model type. Builds on every layer but training.
"""
