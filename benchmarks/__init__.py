"""Benchmarks: one script per paper table (plus the codec); each writes one JSON result."""
