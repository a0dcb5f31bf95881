"""Command lines generated from a Config dataclass: one flag per field, on top of ``HfArgumentParser``.

Every benchmark and ``python -m zip2zip.training`` parse their arguments here, so a flag, its help, its
default and its checks are declared once, on the Config field (:func:`option`)::

    corpora: tuple[str, ...] = option(("code",), "text domains", parse=Names("corpus", CORPORA))

gives ``--corpora`` (``--corpora code,math`` and ``--corpora code math`` alike), its help with the default
of the chosen preset, and the name check that both the flag and the Config's ``__post_init__``
(:func:`check_names`) make. ``X | None`` fields take ``none``; bools take ``--x``, ``--x false`` and ``--no-x``.
A value the Config refuses is a one-line usage error (exit status 2).

What a run does with its Config is not decided here; nor what its other flags (``--out``, ``--resume``) mean.
``transformers`` is imported only when a parser is built, so importing this module stays cheap.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast

from zip2zip.registry import check_name

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from transformers import HfArgumentParser

T = TypeVar("T")
C = TypeVar("C", bound="DataclassInstance")

_NOT_GIVEN: Any = object()  # a field's value in the namespace until its flag is read


@dataclasses.dataclass(frozen=True)
class Names:
    """A field of registry names of one ``kind`` (or a tuple of them): a typo names the closest known name.
    An empty tuple is refused unless ``allow_empty`` (it would measure nothing)."""

    kind: str
    known: tuple[str, ...]
    allow_empty: bool = False

    def __call__(self, text: str) -> str:
        return check_name(text, self.known, kind=self.kind)

    def nothing_given(self) -> str:
        return f"no {self.kind} given; choose from {', '.join(self.known)}"


def option(default: T, help: str, *, parse: Callable[[str], Any] | None = None) -> T:
    """A Config field with its flag's help; ``parse``: how one typed value (one item of a list) is read,
    e.g. :class:`Names`, or a path check made only on the command line."""
    metadata: dict[str, Any] = {"help": help.replace("%", "%%")}  # argparse reads help as a %-format
    if parse is not None:
        metadata["type"] = parse  # HfArgumentParser passes metadata to argparse, which knows ``type``
    return cast(T, dataclasses.field(default=default, metadata=metadata))


def check_names(config: DataclassInstance) -> None:
    """Raise ValueError for the first field declared with :class:`Names` whose value is not made of known
    names: for a Config's ``__post_init__``, so ``run(Config(...))`` refuses what the command line does."""
    for field in dataclasses.fields(config):
        names = field.metadata.get("type")
        value = getattr(config, field.name)
        if not isinstance(names, Names) or value is None:
            continue
        if value == () and not names.allow_empty:
            raise ValueError(f"{field.name}=() ({_flag(field.name)}): {names.nothing_given()}")
        for item in value if isinstance(value, tuple) else (value,):
            names(item)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def shown(value: object) -> str:
    """A value as ``--help`` shows it and as it is typed: ``("code", "math")`` -> ``code,math``, ``None`` ->
    ``none``, ``()`` -> ``''``."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "''"
    return str(value)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each flag's default after its help (not after a switch's, ``--resume``, nor a flag's without one);
    the description keeps its line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.nargs == 0 or action.default is None:
            return action.help
        return super()._get_help_string(action)


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors in one line: the usage of dozens of flags, which argparse prints first, would bury the
    message (the full usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _config_parser_type() -> type[HfArgumentParser]:
    from transformers import HfArgumentParser

    class ConfigParser(OneLineErrorParser, HfArgumentParser):
        """HfArgumentParser (a flag per dataclass field) with one-line usage errors."""

    return ConfigParser


def _value_reader(kind: Any, parse: Callable[[str], Any] | None) -> Callable[[str], Any]:
    """How one command-line word becomes (part of) a value of field type ``kind``: ``none`` for an optional
    field; a comma list for a tuple (a tuple of its items; several words are joined after parsing); true/false
    (yes/no, 1/0) for a bool; else ``parse`` or the type itself. Example: ``tuple[float, ...] | None``,
    ``"2,1"`` -> ``(2.0, 1.0)``."""
    from transformers.hf_argparser import string_to_bool

    optional = type(None) in typing.get_args(kind)
    kind = _without_none(kind)
    is_tuple = typing.get_origin(kind) is tuple
    item_kind = typing.get_args(kind)[0] if is_tuple else kind
    read_item = parse or (string_to_bool if item_kind is bool else item_kind)

    def read_one(text: str) -> Any:
        try:
            return read_item(text)
        except ValueError as exc:
            if parse is not None:  # a check's own message names the bad value and the fix
                raise argparse.ArgumentTypeError(str(exc)) from None
            raise argparse.ArgumentTypeError(f"invalid {item_kind.__name__} value: {text!r}") from None

    def read(text: str) -> Any:
        if optional and text.lower() == "none":
            return None
        if not is_tuple:
            return read_one(text)
        items = tuple(read_one(x.strip()) for x in text.split(",") if x.strip())
        if not items and isinstance(parse, Names) and not parse.allow_empty:
            raise argparse.ArgumentTypeError(parse.nothing_given())
        return items

    return read


def _joined(value: Any, parse: Any) -> Any:
    """The words of a list flag as one value: their tuples joined (``--models a b`` or ``a,b``), a repeated
    name dropped (order kept); ``none`` alone stays None."""
    if not isinstance(value, list):
        return value
    if value == [None]:
        return None
    items = tuple(item for part in value if part is not None for item in part)
    return tuple(dict.fromkeys(items)) if isinstance(parse, Names) else items


class ConfigCommandLine(Generic[C]):
    """The command line of one Config: a flag per field (HfArgumentParser), plus the flags added here.

    ``presets(args)``: the Config whose values are the defaults, from the flags read first (:meth:`read_first`,
    e.g. ``--smoke`` or ``--preset NAME``); ``--help`` shows that Config's values.
    """

    def __init__(
        self,
        config_type: type[C],
        *,
        prog: str,
        description: str | None,
        presets: Callable[[argparse.Namespace], C],
        epilog: str | None = None,
    ) -> None:
        self.config_type = config_type
        self.presets = presets
        self.parser = _config_parser_type()(
            config_type,  # type: ignore[arg-type]  # transformers' DataClassType is a NewType of Any
            prog=prog,
            usage="%(prog)s [options]  (every option below; -h for this help)",
            description=description,
            epilog=epilog,
            formatter_class=_HelpFormatter,
        )
        self._first = OneLineErrorParser(prog=prog, add_help=False)
        self.fields = {f.name: f for f in dataclasses.fields(config_type)}
        hints = typing.get_type_hints(config_type)
        for action in list(self.parser._actions):  # argparse has no public accessor for its actions
            # help and messages name the hyphenated spelling only; ``--max_length`` still parses
            hyphenated = [s for s in action.option_strings if "_" not in s]
            action.option_strings = hyphenated or action.option_strings
            field = self.fields.get(action.dest)
            if field is None:
                continue
            if action.nargs == 0:  # HfArgumentParser's --no-x (it repeats the field's help)
                action.help = f"{_flag(field.name)} false"
                continue
            kind = hints[field.name]
            action.type = _value_reader(kind, field.metadata.get("type"))
            if typing.get_origin(_without_none(kind)) is tuple:
                action.nargs = "+"
                item = typing.get_args(_without_none(kind))[0]
                action.metavar = {str: "NAME", int: "N", float: "X"}.get(item, "VALUE")
            no_flag = "--no-" + field.name.replace("_", "-")
            if kind is bool and no_flag not in self.parser._option_string_actions:
                self.parser.add_argument(
                    no_flag, dest=field.name, action="store_false", help=f"{_flag(field.name)} false"
                )

    def add_argument(self, *flags: str, read_first: bool = False, **kwargs: Any) -> None:
        """A flag that is no Config field (``--out``); ``read_first``: it also picks the preset."""
        self.parser.add_argument(*flags, **kwargs)
        if read_first:
            self.read_first(*flags, **kwargs)

    def read_first(self, *flags: str, **kwargs: Any) -> None:
        """A flag read before the others to pick the preset (it must also be a flag of the full parser)."""
        self._first.add_argument(*flags, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.parser.error(message)

    def parse(self, argv: Sequence[str] | None) -> ParsedCommandLine[C]:
        """The Config (the preset's values, with the flags given) and every flag's value."""
        defaults = self.presets(self._first.parse_known_args(argv)[0])
        for action in self.parser._actions:
            if action.dest in self.fields and action.nargs != 0:
                action.default = shown(getattr(defaults, action.dest))
        namespace = argparse.Namespace(**dict.fromkeys(self.fields, _NOT_GIVEN))
        args = self.parser.parse_args(argv, namespace)
        given = {
            name: _joined(value, self.fields[name].metadata.get("type"))
            for name in self.fields
            if (value := getattr(args, name)) is not _NOT_GIVEN
        }
        try:
            config = dataclasses.replace(defaults, **given)
        except ValueError as exc:
            self.parser.error(str(exc))
        for name in self.fields:
            setattr(args, name, getattr(config, name))
        typed = tuple(sys.argv[1:] if argv is None else argv)
        return ParsedCommandLine(config, args, frozenset(given), typed)


def _without_none(kind: Any) -> Any:
    args = typing.get_args(kind)
    return next(a for a in args if a is not type(None)) if type(None) in args else kind


@dataclasses.dataclass(frozen=True)
class ParsedCommandLine(Generic[C]):
    """What a command line asked for: the ``config``, every flag (``args``), which fields were typed
    (``given``: a value equal to the preset's still counts as asked for) and the arguments as typed (``argv``,
    recorded in results so a run can be repeated)."""

    config: C
    args: argparse.Namespace
    given: frozenset[str]
    argv: tuple[str, ...] = ()
