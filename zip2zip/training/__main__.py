"""``python -m zip2zip.training --preset NAME``: see ``zip2zip.training.cli`` and ``zip2zip.training.loop``."""

from zip2zip.training.cli import main

main()
