"""Decoding for causal language models: sampling strategies and the cached decoding loop."""

from tfllm.generation.decoding import decode, next_tokens

__all__ = ["decode", "next_tokens"]
