"""The evaluation layer: token-efficiency metrics, timing, result files and the lm-eval model type. Builds on
every layer but training.
"""
