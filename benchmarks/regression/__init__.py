"""The regression check: every benchmark at a small, deterministic size, compared with committed baselines.

``python -m benchmarks.regression`` (``nox -s regression``, run by CI after the tests) runs each preset
(``presets``) into a temporary folder, flattens its output into named metrics (``metrics``), compares them
with ``results/regression/<name>.json`` under the one tolerance table (``tolerances``, pure comparator in
``compare``), checks that ``paper_tables`` renders the committed results byte for byte as committed
(``rendering``), prints one table and writes it as JSON (``report``). ``--update-baselines`` rewrites the
baselines (``baselines``) from a clean checkout.
"""
