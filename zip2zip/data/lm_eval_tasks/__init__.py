"""Offline stand-ins for the paper's seven lm-eval tasks: YAML configs and committed JSONL data.

``zip2zip.data.standin_tasks`` makes the data deterministically from packaged text (see its docstring for
what each task is); the YAMLs copy the formats, metrics, few-shot counts and filters of lm-eval's own
arc_easy, arc_challenge, openbookqa, hellaswag, piqa, winogrande and gsm8k configs. Load them with
``TaskManager(include_path=str(TASKS_DIR), include_defaults=False)``; ``zip2zip-lm-eval`` includes them itself.
"""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
