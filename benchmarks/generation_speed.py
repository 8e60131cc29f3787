"""Generation tokens/s of tfllm against KerasHub's `GPT2CausalLM.generate` (XLA), in one run.

A GPT-2-base-size model (12 layers, 768 wide, GPT-2's 50257-token vocabulary; random weights, since
no GPT-2 weights are available offline) generates 64 new tokens greedily after the same prompt, at
batch 1 and 8, three ways:
  - KerasHub: `GPT2CausalLM` compiled with `jit_compile=True` (the anchor), no stop token;
  - tfllm in-process: `CausalLM.generate_text`, the serving graph (tokenize, XLA cached decoding, detokenize);
  - tfllm exported: the same graph saved as a SavedModel and loaded back with `tf.saved_model.load`.
Each is timed over `--repeats` rounds after one warmup call each (tracing and XLA compilation
excluded); a round calls the three in turn, so that drift in the machine's speed (a shared 2-core VM)
falls on all three alike, and the median round time of each is reported.

    python benchmarks/generation_speed.py
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import shared_path  # noqa: E402
from tfllm import CausalLM, CausalLMServer, gpt2_from_scratch  # noqa: E402

PROMPT = "The quick brown fox jumps over the lazy dog, and then"


def median_seconds_interleaved(calls, repeats):
    """Median seconds per call of each of `calls` ({name: call}), timed in rounds that call each in turn."""
    for call in calls.values():
        call()  # tracing and XLA compilation
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="base", help="GPT-2 size (tfllm.backbones.GPT2_SIZES)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    vocabulary = shared_path("vocab", "gpt2", "vocab.json"), shared_path("vocab", "gpt2", "merges.txt")
    backbone, tokenizer = gpt2_from_scratch(args.size, *vocabulary, dropout=0.0)
    lm = CausalLM(backbone, tokenizer)
    prompt_length = len(tf.function(tokenizer.tokenize)(tf.constant([PROMPT]))[0]) + 1  # + the start token
    print(f"GPT-2 {args.size}: {backbone.count_params() / 1e6:.0f}M parameters, prompt {prompt_length} tokens, "
          f"{args.new_tokens} new tokens, greedy")

    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(
        keras_hub.models.GPT2Tokenizer(*vocabulary), sequence_length=prompt_length + args.new_tokens)
    anchor = keras_hub.models.GPT2CausalLM(backbone, preprocessor)
    anchor.compile(sampler="greedy", jit_compile=True)

    with tempfile.TemporaryDirectory() as directory:
        server = CausalLMServer(lm)
        tf.saved_model.save(server, directory, signatures=server.signatures())
        exported = tf.saved_model.load(directory).signatures["serving_default"]
        for batch_size in args.batch_sizes:
            prompts = [PROMPT] * batch_size
            request = dict(prompts=tf.constant(prompts), max_new_tokens=tf.constant(args.new_tokens),
                           temperature=tf.constant(0.0), top_k=tf.constant(0), top_p=tf.constant(1.0),
                           seed=tf.constant(0, tf.int64), stop=tf.constant([], tf.string))
            counts = server.serve(**request)["token_count"].numpy()
            assert (counts == args.new_tokens).all(), f"stopped early: {counts}"  # same work as the anchor
            tokens = batch_size * args.new_tokens
            seconds = median_seconds_interleaved({
                "KerasHub generate (XLA)": lambda: anchor.generate(
                    prompts, max_length=prompt_length + args.new_tokens, stop_token_ids=None),
                "tfllm in-process": lambda: lm.generate_text(prompts, max_new_tokens=args.new_tokens),
                "tfllm exported SavedModel": lambda: exported(**request),
            }, args.repeats)
            rates = {name: tokens / value for name, value in seconds.items()}
            anchor_rate = rates["KerasHub generate (XLA)"]
            print(f"\nbatch {batch_size}:")
            for name, rate in rates.items():
                print(f"  {name:28s} {rate:8.1f} tokens/s   {rate / anchor_rate:5.2f}x KerasHub")
            print(f"  exported / in-process: {rates['tfllm exported SavedModel'] / rates['tfllm in-process']:.2f}x")


if __name__ == "__main__":
    main()
