"""``Zip2ZipPreTrainedModel``: any Hugging Face causal LM reading and writing LZW-compressed id streams.

The wrapper owns two hyper-encoders (input side over the base input-embedding rows, output side over
the base LM-head rows; with ``tie_encoders`` one encoder over the LM-head rows serves both sides, the
paper's choice for tied-embedding models) and delegates everything else to the base
model, whose weights are referenced, never copied: ``save_pretrained`` writes the zip2zip config, the
encoder weights (safetensors) and the peft adapter if there is one, and the config lists which of them
the checkpoint holds, so ``from_pretrained`` refuses one that lost a part (the files and those checks are
``checkpoint.py``'s; the two methods here are its public face). ``forward`` is the training/scoring
pass over a whole compressed batch with its codebook tables; the incremental pieces a generation loop
needs (``encode_*_entries``, ``embed``, ``logits``, ``run_decoder``) are public so ``generation.py`` can
drive them. It also behaves like a transformers model where that costs nothing (``device``, ``dtype``,
``num_parameters``, ``push_to_hub``, ``from_pretrained`` options and hub ids). This module has no generation
loop: ``zip2zip.Zip2ZipForCausalLM`` (``inference/causal_lm.py``) is this class plus ``generate``.
"""

from __future__ import annotations

import dataclasses
import inspect
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import torch
import torch.nn.functional as F
from torch import nn

from zip2zip.codec.config import CompressionConfig, TokenizerVocabulary
from zip2zip.modeling.base_models import BaseReference, load_base
from zip2zip.modeling.checkpoint import (
    ADAPTER_DIR,
    compression_for_base,
    is_peft_model,
    load_checkpoint,
    save_checkpoint,
)
from zip2zip.modeling.checkpoint_parts import CheckpointParts
from zip2zip.modeling.config import CONFIG_FILE_NAME, HyperEncoderConfig, Zip2ZipConfig
from zip2zip.modeling.embedding import embed_compressed_ids
from zip2zip.modeling.hub import check_base_is_portable, locate_checkpoint, upload_folder
from zip2zip.modeling.hyper_encoder import build_hyper_encoder
from zip2zip.modeling.inputs import IGNORE_INDEX, validate_compressed_batch
from zip2zip.modeling.lm_head import joint_logits, slot_mask_from_positions, version_mask_from_intervals
from zip2zip.modeling.load_options import (
    HubOptions,
    check_auto_class_arguments,
    resolve_device,
    resolve_dtype,
)
from zip2zip.modeling.lora import ADAPTER_CONFIG, check_adapter_config, peft_deprecation_quieted
from zip2zip.modeling.positions import code_position_ids
from zip2zip.modeling.tensor_copy import copy_tensors_strictly, load_tensors
from zip2zip.remote_code import check_trust_remote_code

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import Cache, PreTrainedModel

# Head post-processing a joint head would have to reproduce; refuse rather than silently differ.
_UNSUPPORTED_HEAD_SCALES = ("logit_scale", "logits_scaling")


_KV_CACHE_KEYWORDS: dict[type[nn.Module], str] = {}  # model class -> its forward's KV-cache keyword


def kv_cache_keyword(model_class: type[nn.Module]) -> str:
    """The name under which ``model_class.forward`` takes its KV cache: ``cache`` from transformers 5.25 on
    (where ``past_key_values`` is deprecated, to go in 5.40), ``past_key_values`` before."""
    keyword = _KV_CACHE_KEYWORDS.get(model_class)
    if keyword is None:
        parameters = inspect.signature(model_class.forward).parameters
        keyword = _KV_CACHE_KEYWORDS[model_class] = "cache" if "cache" in parameters else "past_key_values"
    return keyword


@dataclass
class Zip2ZipOutput:
    logits: torch.Tensor  # [B, T, V + C]
    loss: torch.Tensor | None = None


class Zip2ZipPreTrainedModel(nn.Module):
    """A base causal LM plus hyper-encoders; vocabulary = V base ids + C per-sequence hypertoken slots."""

    def __init__(self, base_model: nn.Module, config: Zip2ZipConfig) -> None:
        super().__init__()
        self.config = config
        self.base_model = base_model
        self._check_base()
        kwargs = {"hidden_size": config.hidden_size, "max_subtokens": config.compression.max_subtokens}
        self.input_encoder = build_hyper_encoder(config.hyper_encoder, **kwargs)
        self.output_encoder = (
            self.input_encoder if config.tie_encoders else build_hyper_encoder(config.hyper_encoder, **kwargs)
        )
        weight = self.input_embeddings.weight
        self.input_encoder.to(device=weight.device, dtype=weight.dtype)
        self.output_encoder.to(device=weight.device, dtype=weight.dtype)

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def from_base(
        cls,
        base_model: nn.Module,
        *,
        compression: CompressionConfig,
        hyper_encoder: HyperEncoderConfig | None = None,
        tie_encoders: bool | None = None,
        base_model_name_or_path: str | None = None,
        base_gguf_file: str | None = None,
        base_revision: str | None = None,
    ) -> Self:
        """Wrap an already loaded causal LM with freshly initialised encoders (see ``hyper_encoder``).

        ``tie_encoders=None`` follows the base model's ``tie_word_embeddings`` (the paper's rule: a model
        with tied embeddings reuses one hyper-encoder output on both sides).
        """
        base: Any = base_model  # a transformers PreTrainedModel (or a peft wrapper of one)
        if tie_encoders is None:
            text_config = base.config.get_text_config()
            tie_encoders = bool(getattr(text_config, "tie_word_embeddings", False))
        name = base_model_name_or_path or getattr(base.config, "_name_or_path", None) or None
        config = Zip2ZipConfig(
            compression=compression,
            hidden_size=int(base.get_input_embeddings().weight.shape[1]),
            hyper_encoder=hyper_encoder or HyperEncoderConfig(),
            tie_encoders=tie_encoders,
            base_model_name_or_path=name,
            base_gguf_file=base_gguf_file,
            base_revision=base_revision,
        )
        model = cls(base_model, config)
        model._init_encoder_output_scale()
        return model

    @torch.no_grad()
    def _init_encoder_output_scale(self) -> None:
        """Fresh encoders: size their learned residual by the RMS of the rows each reads (V tokenizer ids)."""
        v = self.compression.initial_vocab_size
        self.output_encoder.init_output_scale(_rms(self.lm_head.weight[:v]))
        if not self.config.tie_encoders:
            self.input_encoder.init_output_scale(_rms(self.input_embeddings.weight[:v]))

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        gguf_file: str | None = None,
        revision: str | None = None,
        compression: CompressionConfig | None = None,
        tokenizer: TokenizerVocabulary | None = None,
        max_subtokens: int = 3,
        max_codebook_size: int | None = None,
        codebook_policy: str | None = None,
        hyper_encoder: HyperEncoderConfig | None = None,
        tie_encoders: bool | None = None,
        dtype: torch.dtype | str | None = None,
        torch_dtype: torch.dtype | str | None = None,
        device_map: str | int | torch.device | dict[str, Any] | None = None,
        base_model: nn.Module | str | Path | None = None,
        is_trainable: bool = False,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        force_download: bool = False,
        proxies: dict[str, str] | None = None,
        subfolder: str | None = "",
        trust_remote_code: bool = False,
        **auto_class_arguments: Any,
    ) -> Self:
        """Load a saved zip2zip checkpoint (folder or hub id), or wrap a base model id/path (optionally a GGUF).

        For a base model the codec settings come from ``compression`` or else from ``tokenizer`` (loaded
        from the same place when not given) with ``max_subtokens``/``max_codebook_size``; one of
        ``compression`` and ``max_codebook_size`` must be given, so that a folder or id that is not a
        checkpoint is never silently loaded as an untrained wrapper. For a checkpoint
        they come from its config; passing different ones is an error, never a silent override, except for
        ``codebook_policy`` and ``max_codebook_size``, which override the checkpoint's for inference (the
        hyper-encoders are context-free, see ``Zip2ZipConfig.with_codebook``; the authors' checkpoints load as
        ``freeze``). For a base model ``codebook_policy`` (default ``freeze``) sets the policy.
        ``base_model`` supplies an already loaded base (or where to load it from) instead of the referenced
        one. The authors' checkpoints (local or hub) load too, see ``upstream_checkpoint.py``. As in
        transformers: ``dtype`` (older name ``torch_dtype``; a dtype, its name or ``"auto"``), ``device_map``
        (one device or ``"auto"``, see ``load_options.resolve_device``), and the hub options
        ``revision``/``subfolder`` (where the checkpoint is) and ``cache_dir``/``local_files_only``/``token``/
        ``force_download``/``proxies`` (also used for the base model a checkpoint references; see
        ``load_options.HubOptions``). ``AutoModelForCausalLM.from_pretrained`` calls this.
        ``trust_remote_code=True`` lets a base model (or tokenizer) that needs custom code from its folder or
        repository run it; by default it is refused in one line, and nothing is ever asked on stdin (see
        ``zip2zip.remote_code``).
        """
        trust_remote_code = check_trust_remote_code(trust_remote_code)
        check_auto_class_arguments(auto_class_arguments)
        dtype = resolve_dtype(dtype, torch_dtype)
        device = resolve_device(device_map)
        hub = HubOptions(
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
            force_download=force_download,
            proxies=proxies,
            subfolder=subfolder or "",
        )
        checkpoint = locate_checkpoint(name_or_path, hub)
        if checkpoint is not None:
            for adapter_config in (checkpoint / ADAPTER_DIR / ADAPTER_CONFIG, checkpoint / ADAPTER_CONFIG):
                if adapter_config.is_file():  # ours, the authors': checked before the base model loads
                    check_adapter_config(adapter_config)
            parts = load_checkpoint(
                checkpoint,
                compression=compression,
                hyper_encoder=hyper_encoder,
                dtype=dtype,
                base_model=base_model,
                is_trainable=is_trainable,
                trust_remote_code=trust_remote_code,
                tokenizer=tokenizer,
                access=hub.access_options(),
            )
            config = parts.config.with_codebook(
                codebook_policy=codebook_policy, max_codebook_size=max_codebook_size
            )
            model = cls._from_parts(dataclasses.replace(parts, config=config))
            return model if device is None else model.to(device)
        if hub.subfolder:
            if not Path(name_or_path).is_dir():
                raise ValueError(
                    f"subfolder={hub.subfolder!r} with base model {name_or_path!r}: a subfolder of a hub "
                    "repository can locate a zip2zip checkpoint, not a base model to wrap; pass the base "
                    "model's local folder instead"
                )
            name_or_path = Path(name_or_path) / hub.subfolder
        if compression is None:
            if max_codebook_size is None:
                raise ValueError(
                    f"{name_or_path} is not a zip2zip checkpoint (it has no {CONFIG_FILE_NAME}); to wrap it as a "
                    "base model with fresh, untrained hyper-encoders pass max_codebook_size=C (e.g. 2048) or "
                    "compression=, or call Zip2ZipForCausalLM.from_base on a loaded model"
                )
            compression = compression_for_base(
                str(name_or_path),
                tokenizer=tokenizer,
                gguf_file=gguf_file,
                revision=revision,
                max_subtokens=max_subtokens,
                max_codebook_size=max_codebook_size,
                trust_remote_code=trust_remote_code,
                access=hub.access_options(),
            )
        if codebook_policy is not None:
            compression = dataclasses.replace(compression, codebook_policy=codebook_policy)
        if not isinstance(base_model, nn.Module):
            base_model = load_base(
                BaseReference(str(base_model or name_or_path), gguf_file, revision),
                dtype=dtype,
                trust_remote_code=trust_remote_code,
                access=hub.access_options(),
            ).model
        model = cls.from_base(
            base_model,
            compression=compression,
            hyper_encoder=hyper_encoder,
            tie_encoders=tie_encoders,
            base_model_name_or_path=str(name_or_path),
            base_gguf_file=gguf_file,
            base_revision=revision,
        )
        return model if device is None else model.to(device)

    @classmethod
    def _from_parts(cls, parts: CheckpointParts) -> Self:
        """The model a checkpoint's parts describe, its trained encoders loaded (``checkpoint_parts``)."""
        try:
            model = cls(parts.base_model, parts.config)
        except ValueError as error:  # the base does not fit the config: name the file that says so
            raise ValueError(f"{parts.config_file}: {error}") from None
        if parts.encoder_file is not None:
            model._load_encoders(parts)
        return model

    def _load_encoders(self, parts: CheckpointParts) -> None:
        """Copy the saved encoder tensors into ours by name; a missing file or tensor, an unmatched one or
        another shape is refused (it would load as another model)."""
        file = parts.encoder_file
        if file is None or not file.is_file():
            raise ValueError(f"{file} is missing: refusing to use randomly initialised hyper-encoders")
        expected = self.encoders_state_dict()
        if parts.one_encoder_weight_set:
            expected = {k: v for k, v in expected.items() if k.startswith("input_encoder.")}
        what, hint = parts.encoder_description, parts.encoder_hint
        copy_tensors_strictly(file, load_tensors(file), expected, what=what, hint=hint)
        if parts.one_encoder_weight_set and self.output_encoder is not self.input_encoder:
            self.output_encoder.load_state_dict(self.input_encoder.state_dict())

    def save_pretrained(
        self, directory: Path | str, *, tokenizer: Any = None, safe_serialization: bool = True
    ) -> Path:
        """Write encoder weights (+ peft adapter) + config + model card; the base model is referenced by
        name/path. With ``tokenizer`` (the base's, transformers' or ``data.tokenizers``') the folder is
        self-contained for ``AutoTokenizer`` too.

        With compression off (C = 0, e.g. the continual-pretraining control) no encoder weights are written.
        The config's ``contents`` lists what was written (see ``checkpoint.checkpoint_contents``). Weights are
        always safetensors, as transformers' default ``safe_serialization=True`` says; False is refused."""
        if safe_serialization is not True:
            raise ValueError(
                f"safe_serialization={safe_serialization!r}: zip2zip checkpoints are written as safetensors "
                "only (a pickled checkpoint is refused when loading); drop the argument"
            )
        return save_checkpoint(
            directory,
            config=self.config,
            base_model=self.base_model,
            encoder_state=self.encoders_state_dict(),
            tokenizer=tokenizer,
        )

    def encoders_state_dict(self) -> dict[str, torch.Tensor]:
        """Encoder weights only, prefixed ``input_encoder.`` / ``output_encoder.`` (output omitted if tied)."""
        state = {f"input_encoder.{k}": v for k, v in self.input_encoder.state_dict().items()}
        if not self.config.tie_encoders:
            state.update({f"output_encoder.{k}": v for k, v in self.output_encoder.state_dict().items()})
        return state

    def add_lora(self, lora_config: LoraConfig) -> None:
        """Wrap the base model with a peft adapter (saved and restored with the checkpoint)."""
        from peft import get_peft_model

        with peft_deprecation_quieted():
            self.base_model = get_peft_model(self.base_model, lora_config)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        tokenizer: Any = None,
    ) -> Any:
        """Upload what ``save_pretrained`` writes (with ``tokenizer``, if given) to the hub repo ``repo_id``
        (created if missing).

        Refuses a model whose base is a local folder: the uploaded checkpoint would not load anywhere else."""
        check_base_is_portable(self.config.base_model_name_or_path)
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder, tokenizer=tokenizer)
            return upload_folder(
                Path(folder),
                repo_id,
                private=private,
                token=token,
                revision=revision,
                commit_message=commit_message,
            )

    # ----------------------------------------------------------------------------- as transformers models
    @property
    def device(self) -> torch.device:
        """Where the model runs (that of its input embedding; the wrapper lives on one device)."""
        return self.input_embeddings.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.input_embeddings.weight.dtype

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """Parameters of base model and encoders, each shared tensor once (transformers' signature)."""
        skipped = set()
        if exclude_embeddings:
            skipped = {id(m.weight) for m in self.modules() if isinstance(m, nn.Embedding)}
        return sum(
            p.numel()
            for p in self.parameters()
            if id(p) not in skipped and (p.requires_grad or not only_trainable)
        )

    # ----------------------------------------------------------------------------- base-model parts
    @property
    def causal_lm(self) -> PreTrainedModel:
        """The transformers causal LM (inside the peft wrapper if there is one)."""
        base: Any = self.base_model
        return base.get_base_model() if is_peft_model(base) else base

    @property
    def decoder(self) -> nn.Module:
        return self.causal_lm.base_model  # e.g. LlamaModel: embeddings + layers + final norm

    # Any, not nn.Module: callers read ``.weight`` [rows, d], which torch types as ``Tensor | Module``.
    @property
    def input_embeddings(self) -> Any:
        return self.causal_lm.get_input_embeddings()

    @property
    def lm_head(self) -> Any:  # nn.Module with .weight [rows, d]; Any as for input_embeddings
        return self.causal_lm.get_output_embeddings()

    @property
    def compression(self) -> CompressionConfig:
        return self.config.compression

    @property
    def logit_softcap(self) -> float | None:
        return getattr(self.causal_lm.config.get_text_config(), "final_logit_softcapping", None)

    def _check_base(self) -> None:
        v = self.config.compression.initial_vocab_size
        emb, head = self.input_embeddings, self.lm_head
        if emb is None or head is None or not hasattr(head, "weight"):
            raise ValueError(f"{type(self.causal_lm).__name__} has no input embedding / LM head to extend")
        rows_in, width = emb.weight.shape
        rows_out = head.weight.shape[0]
        if v > min(rows_in, rows_out):
            raise ValueError(
                f"tokenizer/model mismatch: the codec's base vocabulary has V={v} ids but the model's "
                f"embedding has {rows_in} rows and its LM head {rows_out}; use the model's own tokenizer"
            )
        if width != self.config.hidden_size:
            raise ValueError(
                f"base model hidden size {width} != config hidden_size {self.config.hidden_size}: "
                "this checkpoint was made for another base model"
            )
        self.config.check_encoder_budget(sum(p.numel() for p in self.causal_lm.parameters()))
        text_config = self.causal_lm.config.get_text_config()
        for name in _UNSUPPORTED_HEAD_SCALES:
            if getattr(text_config, name, 1.0) not in (None, 1.0):
                raise ValueError(
                    f"{type(self.causal_lm).__name__} scales its logits ({name}); not supported yet"
                )

    # ----------------------------------------------------------------------------- building blocks
    def encode_input_entries(
        self, member_ids: torch.Tensor, *, lengths: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Input-side vectors of entries given as base ids ``[N, M]`` (pad-filled) -> ``[N, d]``.

        With ``tie_encoders`` this is the output-side vector times the embedding module's scale
        (e.g. Gemma's sqrt(d)), so one encoder pass serves both sides. ``lengths`` (host-side member
        counts, if the caller has them) spares a device read when a large batch is grouped by length.
        """
        if self.config.tie_encoders:
            return self.output_to_input(self.encode_output_entries(member_ids, lengths=lengths))
        pad = self.compression.pad_token_id
        return _encode_grouped(self.input_encoder, self.input_embeddings, member_ids, pad, lengths)

    def encode_output_entries(
        self, member_ids: torch.Tensor, *, lengths: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Output-side vectors (encoder over rows of the LM head) of entries ``[N, M]`` -> ``[N, d]``."""
        weight = self.lm_head.weight
        pad = self.compression.pad_token_id
        return _encode_grouped(
            self.output_encoder, lambda ids: F.embedding(ids, weight), member_ids, pad, lengths
        )

    def output_to_input(self, vectors: torch.Tensor) -> torch.Tensor:
        """Tied mode: an output-side vector read as an input embedding (scaled like the base rows)."""
        scale = getattr(self.input_embeddings, "embed_scale", None)
        return vectors if scale is None else vectors * scale.to(vectors.dtype)

    def encode_codebook(self, codebook_table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row tables ``[B, S, M]`` -> (input, output) vectors ``[B, S, d]``; empty slots stay zero.

        Only real entries go through the encoders (one batched call per side; one in tied mode).
        """
        b, s, _ = codebook_table.shape
        d = self.config.hidden_size
        dtype = self.input_embeddings.weight.dtype
        filled = codebook_table[..., 0] != self.compression.pad_token_id  # [B, S]
        inputs = codebook_table.new_zeros((b, s, d), dtype=dtype)
        outputs = codebook_table.new_zeros((b, s, d), dtype=dtype)
        members = codebook_table[filled]  # [N, M]
        if members.shape[0]:
            out_vectors = self.encode_output_entries(members)
            in_vectors = (
                self.output_to_input(out_vectors)
                if self.config.tie_encoders
                else self.encode_input_entries(members)
            )
            inputs = inputs.index_put((filled,), in_vectors)
            outputs = outputs.index_put((filled,), out_vectors)
        return inputs, outputs

    def embed(self, ids: torch.Tensor, hyper_embeds: torch.Tensor | None) -> torch.Tensor:
        """Compressed ids ``[B, T]`` -> input embeddings ``[B, T, d]`` (see ``embedding.py``)."""
        return embed_compressed_ids(
            ids,
            base_embedding=self.input_embeddings,
            hyper_embeds=hyper_embeds,
            initial_vocab_size=self.compression.initial_vocab_size,
        )

    def logits(
        self,
        hidden: torch.Tensor,
        hyper_unembeds: torch.Tensor | None,
        slot_mask: torch.Tensor | None,
        *,
        num_hyper_columns: int | None = None,
    ) -> torch.Tensor:
        """Hidden states ``[B, T, d]`` -> joint logits ``[B, T, V + C]`` (see ``lm_head.py``); with
        ``num_hyper_columns`` N (entry versions, see ``forward``) ``[B, T, V + N]``."""
        return joint_logits(
            hidden,
            base_head=self.lm_head,
            hyper_unembeds=hyper_unembeds,
            slot_mask=slot_mask,
            initial_vocab_size=self.compression.initial_vocab_size,
            max_codebook_size=self.compression.max_codebook_size
            if num_hyper_columns is None
            else num_hyper_columns,
            logit_softcap=self.logit_softcap,
            keep_extra_rows=self.config.extra_head_rows == "after_hypertokens",
        )

    def run_decoder(
        self,
        inputs_embeds: torch.Tensor,
        *,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        past_key_values: Cache | None = None,
    ) -> torch.Tensor:
        """The base transformer body (no head): ``[B, T, d]`` -> final hidden states ``[B, T, d]``."""
        decoder = self.decoder
        out = decoder(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=past_key_values is not None,
            **{kv_cache_keyword(type(decoder)): past_key_values},
        )
        return out.last_hidden_state

    # ----------------------------------------------------------------------------- training pass
    def forward(
        self,
        input_ids: torch.Tensor,
        codebook_table: torch.Tensor,
        *,
        attention_mask: torch.Tensor | None = None,
        entry_positions: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        removal_positions: torch.Tensor | None = None,
        hidden_versions: torch.Tensor | None = None,
        validate: bool = True,
    ) -> Zip2ZipOutput:
        """Logits (and loss) over the joint vocabulary for a compressed batch.

        Args:
            input_ids: ``[B, T]`` compressed ids (base ids < V, hypertoken ids V + slot).
            codebook_table: ``[B, S, M]`` each row's entries (S <= C), pad-filled; row k = hypertoken V + k.
            attention_mask: ``[B, T]``, 1 for real codes (either padding side).
            entry_positions: ``[B, S]`` index in ``input_ids`` at which each entry completes. With it,
                slot k is offered only from that position on (what generation sees); without it, every
                entry of the final codebook is offered everywhere (leaks future entries: scoring only).
            labels: ``[B, T]`` targets aligned with ``input_ids`` (shifted inside, HF style); positions
                with ``IGNORE_INDEX`` or attention 0 are not scored. Hypertoken targets that are LZW
                "same-step" codes get their column opened (see ``slot_mask_from_positions``).
            removal_positions: ``[B, N]``, for ``lru`` and ``reset`` (required there): the table's rows are then
                entry versions (``zip2zip.codec.versions``), each offered from ``entry_positions`` up to
                ``removal_positions`` (excluded), ids and labels name versions (``V + r``, r < N, maybe > C) and
                the logits are ``[B, T, V + N]``.
            hidden_versions: ``[B, T]`` with ``removal_positions``: the version not offered at each position
                (the lru victim; -1 for none).
            validate: check ids, shapes and that every hypertoken exists where it is used (host syncs).
        """
        comp = self.compression
        is_versioned = removal_positions is not None
        if is_versioned and (entry_positions is None or hidden_versions is None):
            raise ValueError("removal_positions need entry_positions and hidden_versions (codec.versions)")
        if not is_versioned:
            check_parallel_policy(comp)
        num_columns = codebook_table.shape[1] if is_versioned else comp.max_codebook_size
        if validate:  # versions are checked as a codebook of N slots
            validate_compressed_batch(
                dataclasses.replace(comp, max_codebook_size=num_columns),
                input_ids,
                codebook_table,
                entry_positions,
                labels,
                attention_mask,
                position_ids,
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if position_ids is None:
            position_ids = code_position_ids(self.config, input_ids, attention_mask, codebook_table)
        targets = None
        if labels is not None:
            labels = labels.masked_fill(attention_mask == 0, IGNORE_INDEX)
            targets = torch.cat([labels[:, 1:], labels.new_full((labels.shape[0], 1), IGNORE_INDEX)], dim=1)
        hyper_in, hyper_out = self.encode_codebook(codebook_table)
        hidden = self.run_decoder(
            self.embed(input_ids, hyper_in), attention_mask=attention_mask, position_ids=position_ids
        )
        if is_versioned:
            assert (
                entry_positions is not None and removal_positions is not None and hidden_versions is not None
            )
            slot_mask = version_mask_from_intervals(
                entry_positions,
                removal_positions,
                hidden_versions,
                targets=targets,
                initial_vocab_size=comp.initial_vocab_size,
            )
        elif entry_positions is None:
            slot_mask = (codebook_table[..., 0] != comp.pad_token_id).unsqueeze(1)  # [B, 1, S]
        else:
            slot_mask = slot_mask_from_positions(
                entry_positions,
                input_ids.shape[1],
                targets=targets,
                initial_vocab_size=comp.initial_vocab_size,
            )
        logits = self.logits(hidden, hyper_out, slot_mask, num_hyper_columns=num_columns)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="mean"
            )
        return Zip2ZipOutput(logits=logits, loss=loss)


def check_parallel_policy(comp: CompressionConfig) -> None:
    """Refuse a whole-sequence pass over a slot table under ``lru`` or ``reset``: it gives each slot one entry
    for the whole sequence, but those policies replace entries mid-stream (pass entry versions instead)."""
    if comp.codebook_policy != "freeze":
        raise ValueError(
            f"codebook_policy={comp.codebook_policy!r}: a codebook table of slots serves 'freeze' only; pass "
            "entry versions (removal_positions, hidden_versions: zip2zip.codec.versions; training chunks made "
            "under that policy carry them), or load the model with codebook_policy='freeze'"
        )


# Below this many entries one padded call is cheaper than one call per entry length.
_MIN_ENTRIES_TO_GROUP = 16


def _rms(rows: torch.Tensor) -> float:
    """Root mean square of all entries of ``rows`` (computed in float32, so bf16/fp16 bases work too)."""
    return float(rows.detach().float().pow(2).mean().sqrt())


def _encode_grouped(
    encoder: nn.Module,
    rows_of: Any,
    member_ids: torch.Tensor,
    pad_token_id: int,
    lengths: Sequence[int] | None = None,
) -> torch.Tensor:
    """Run ``encoder`` over entries ``[N, M]``; large batches are grouped by length so no padded member
    row is computed (the encoder masks padding, so results equal one padded call up to rounding).
    Without host-side ``lengths`` the grouping reads the lengths from the device once."""
    mask = member_ids != pad_token_id  # [N, M]
    n = member_ids.shape[0]
    if n < _MIN_ENTRIES_TO_GROUP or getattr(encoder, "reads_padding", False):
        return encoder(rows_of(member_ids), mask)
    if lengths is None:
        lengths = mask.sum(dim=1).tolist()
    by_length: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        by_length.setdefault(int(length), []).append(i)
    order = [i for length in sorted(by_length) for i in by_length[length]]
    parts = []
    for length in sorted(by_length):
        idx = torch.tensor(by_length[length], device=member_ids.device)
        parts.append(encoder(rows_of(member_ids[idx, :length]), mask[idx, :length]))
    inverse = torch.empty(n, dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(n)
    return torch.cat(parts)[inverse.to(member_ids.device)]  # back to the input order, [N, d]
