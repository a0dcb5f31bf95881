"""The model layer: hyper-encoders, dynamic embedding, joint LM head, reconstruction decoder, LoRA targets and
``Zip2ZipForCausalLM``. Builds on the codec.
"""
