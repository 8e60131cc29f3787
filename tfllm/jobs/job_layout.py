"""What every job shares: where the trained model lives, which file a split names, and the verified export."""

import contextlib
import os
import tempfile

from tfllm import storage
from tfllm.export.saved_model_export import export_for_serving
from tfllm.training.precision import precision_scope
from tfllm.training.strategy import resolve_strategy


def model_dir(config):
    """`<run_dir>/model`: where `tfllm train` saves the model that the other commands load."""
    return storage.join(config.run_dir, "model")


def evaluation_dir(config, split):
    """`<run_dir>/evaluation/<split>`: where `tfllm evaluate` writes a split's report and predictions."""
    return storage.join(config.run_dir, "evaluation", split)


def run_vocabulary(config, texts, names, train):
    """Trains a tokenizer vocabulary on `texts` once per run dir (a resumed run keeps it); returns the paths
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


def job_strategy(config):
    """`training.strategy` resolved (see `resolve_strategy`): build and compile the job's model in its scope.

    Call it first in a job: a multi-worker strategy must exist before TensorFlow runs any op.
    """
    return resolve_strategy(config.training.strategy, config.training.tpu)


@contextlib.contextmanager
def training_scope(config, strategy):
    """Where a job builds, feeds and compiles its model: `strategy`'s scope, under `training.precision`.

    `fit` takes the strategy from the model, and each layer keeps the policy it was built with.
    """
    with strategy.scope(), precision_scope(config.training.precision, strategy):
        yield


def kept_examples(path, result, limit=None):
    """The examples a reader's `result` kept, the first `limit` of them; says how many bad rows it skipped."""
    if result.bad_rows:
        print(f"{path}: skipped {len(result.bad_rows)} bad row(s) (listed in the log above)")
    return result.examples[:limit] if limit else result.examples


def split_path(config, split, path=None):
    """`path`, else the file `data.<split>` names; a ValueError naming the config when there is none."""
    path = path or getattr(config.data, split)
    if not path:
        raise ValueError(f"{config.path}: data.{split} is not set; nothing to evaluate")
    return path


def export_job(config, server, metadata, version=None, report_keys=()):
    """Exports `server` to `<export.root>/<name>/<version>/` (see `export_for_serving`) and says where.

    The validation report's `report_keys`, when `tfllm evaluate` has written one, go into the metadata.
    Returns the version directory.
    """
    report_path = storage.join(evaluation_dir(config, "validation"), "report.json")
    if report_keys and storage.exists(report_path):
        report = storage.read_json(report_path)
        metadata["validation"] = {key: report[key] for key in report_keys if key in report}
    path, check = export_for_serving(server, config.export.root, config.name, version or config.export.version,
                                     metadata, config.export.base_path)
    print(f"fresh-process check (tensorflow + tensorflow_text only): outputs match for "
          f"{', '.join(sorted(check['signatures']))} ({', '.join(check['outputs'])})")
    print(f"SavedModel for TF Serving: {path if storage.is_remote(path) else os.path.abspath(path)}")
    return path
