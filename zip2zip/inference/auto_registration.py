"""Registration of model type ``zip2zip`` with transformers' ``AutoConfig`` and ``AutoModelForCausalLM``.

``import zip2zip`` calls ``install()``. Registering needs transformers' config classes, whose import pulls
in torch (seconds), while ``import zip2zip`` is meant to stay light (the codec). So ``install()`` registers
at once only what transformers has already loaded, and otherwise waits: a small import hook runs the
registration right after transformers loads ``models.auto.configuration_auto`` (for ``AutoConfig``) and
``models.auto.modeling_auto`` (for ``AutoModelForCausalLM``), before the user's code can reach either.
The registered classes are ``hf_auto_classes``'s. This module imports nothing heavy.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType

CONFIG_MODULE = "transformers.models.auto.configuration_auto"
MODELING_MODULE = "transformers.models.auto.modeling_auto"


def _register_config(module: ModuleType) -> None:
    from zip2zip.inference.hf_auto_classes import Zip2ZipHFConfig

    module.AutoConfig.register(Zip2ZipHFConfig.model_type, Zip2ZipHFConfig, exist_ok=True)


def _register_model(module: ModuleType) -> None:
    from zip2zip.inference.hf_auto_classes import Zip2ZipAutoLoader, Zip2ZipHFConfig

    module.AutoModelForCausalLM.register(Zip2ZipHFConfig, Zip2ZipAutoLoader, exist_ok=True)


_REGISTRATIONS: dict[str, Callable[[ModuleType], None]] = {
    CONFIG_MODULE: _register_config,
    MODELING_MODULE: _register_model,
}


def install() -> None:
    """Register now with whatever transformers has loaded; register the rest when transformers loads it."""
    waiting = {}
    for name, register in _REGISTRATIONS.items():
        if name in sys.modules:
            _run(register, sys.modules[name])
        else:
            waiting[name] = register
    if waiting and not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(waiting))


def _run(register: Callable[[ModuleType], None], module: ModuleType) -> None:
    """A failed registration must not break the user's import of transformers: it becomes a warning."""
    try:
        register(module)
    except Exception as error:  # e.g. a transformers version whose Auto API changed
        warnings.warn(f"zip2zip could not register with the transformers Auto classes: {error}", stacklevel=2)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of each awaited module to register after it has run."""

    def __init__(self, waiting: dict[str, Callable[[ModuleType], None]]) -> None:
        self._waiting = waiting

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        register = self._waiting.pop(fullname, None)
        if register is None:
            return None
        spec = importlib.util.find_spec(fullname)  # the real finders (this one now passes on it)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisterAfterExec(spec.loader, register)
        return spec


class _RegisterAfterExec(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, register: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._register = register

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader  # the module sees its own loader, as without this hook
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _run(self._register, module)
