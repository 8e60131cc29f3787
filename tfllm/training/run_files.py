"""Where a run keeps what it makes, under `run_dir`: the trained model, evaluation reports and the
tokenizer vocabulary trained for a scratch model."""

import os
import tempfile

import tensorflow as tf

from tfllm import storage


def model_dir(config):
    """`<run_dir>/model`: where `tfllm train` saves the model that the other commands load."""
    return storage.join(config.run_dir, "model")


def evaluation_dir(config, split):
    """`<run_dir>/evaluation/<split>`: where `tfllm evaluate` writes a split's report and predictions."""
    return storage.join(config.run_dir, "evaluation", split)


def remove_from_run(config, name):
    """Removes `<run_dir>/<name>`, what a run replaced by a new one left: "tensorboard" (TensorBoard would
    draw both runs' curves as one), "tokenizer" (a scratch vocabulary is trained once per run, and a new
    run would keep the old one, whatever its data or vocabulary_size) and, as the new model is saved,
    "evaluation" (an export carries the validation report's scores: they must be the exported model's).
    Returns the directory removed, or None."""
    directory = storage.join(config.run_dir, name)
    if not storage.exists(directory):
        return None
    tf.io.gfile.rmtree(directory)
    return directory


def run_vocabulary(config, texts, names, train):
    """Trains a tokenizer vocabulary on `texts` once per run (a resumed run keeps it); returns the paths
    of the files `names` in `<run_dir>/tokenizer`.

    `train(corpus_file, output_dir)` writes them from a local text file of `texts`, one per line.
    """
    directory = storage.join(config.run_dir, "tokenizer")
    paths = [storage.join(directory, name) for name in names]
    if not all(storage.exists(path) for path in paths):
        with storage.local_directory(directory) as local, tempfile.TemporaryDirectory() as scratch:
            corpus = os.path.join(scratch, "corpus.txt")
            with open(corpus, "w", encoding="utf-8") as f:
                f.writelines(text + "\n" for text in texts)
            train(corpus, local)
    return paths
