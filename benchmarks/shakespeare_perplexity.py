"""Validation perplexity of a small GPT-2 trained from scratch on tiny-shakespeare for a fixed budget.

Runs the job of examples/shakespeare/config.yaml (BPE vocabulary learned from the text, a GPT-2
"mini", packed 128-token windows, the last 10% of speeches held out) for `--epochs` epochs, then prints
the validation perplexity beside the anchor measured on the same tokens in the same run: a unigram
model (token frequencies of the training windows, add-one smoothed), which knows the vocabulary but
no context. Then samples.

    python benchmarks/shakespeare_perplexity.py --epochs 5
"""

import argparse
import math
import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

from common import shared_path  # noqa: E402
from tfllm import runner  # noqa: E402
from tfllm.configs.job import load_config  # noqa: E402
from tfllm.tasks.causal_lm import sampler  # noqa: E402

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "shakespeare", "config.yaml")


def unigram_perplexity(lm, config, train_examples, validation_examples):
    """Perplexity over the validation targets of token frequencies counted on the training targets."""
    windows, weights = lm.pack(train_examples, config.backbone.sequence_length)
    counts = np.bincount(windows[weights > 0], minlength=lm.tokenizer.vocabulary_size()) + 1.0
    log_probabilities = np.log(counts / counts.sum())
    windows, weights = lm.pack(validation_examples, config.backbone.sequence_length)
    return math.exp(-log_probabilities[windows[weights > 0]].mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    shared_path("tinyshakespeare", "input.txt")
    config = load_config(CONFIG)
    config.training.epochs = args.epochs
    config.training.early_stopping_patience = None
    with tempfile.TemporaryDirectory() as run_dir:
        config.run_dir = run_dir
        start = time.perf_counter()
        lm = runner.train(config, verbose=2)
        minutes = (time.perf_counter() - start) / 60
        report = runner.evaluate(config, model=lm)
        anchor = unigram_perplexity(lm, config, *runner.task_of(config).splits(config))
        print(f"\nGPT-2 {config.backbone.size} from scratch, {args.epochs} epochs in {minutes:.1f} min on this machine")
        print(f"validation perplexity {report['perplexity']:.1f} over {report['tokens']} tokens; "
              f"unigram anchor {anchor:.1f}; ratio {report['perplexity'] / anchor:.3f}")
        for prompt, text in zip(config.generation.samples, sampler(config, lm)(config.generation.samples)):
            print(f"\n--- sample (temperature {config.generation.temperature}, top_p {config.generation.top_p}) ---\n"
                  f"{prompt}{text}")


if __name__ == "__main__":
    main()
