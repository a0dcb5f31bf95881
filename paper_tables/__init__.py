"""Renderers: result JSON -> Markdown/LaTeX tables and plots beside the paper's numbers. Formatting only."""
