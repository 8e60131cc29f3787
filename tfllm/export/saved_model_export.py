"""Atomic, verified export of a serving module to `<root>/<name>/<version>/`."""

import ctypes
import json
import os
import signal
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tfllm import storage
from tfllm.export.serving_config import next_version, write_models_config
from tfllm.export.warmup import write_warmup_requests

_CHECK_SCRIPT = os.path.join(os.path.dirname(__file__), "fresh_process_check.py")
_PR_SET_PDEATHSIG = 1  # prctl option, from <linux/prctl.h>


class ExportError(RuntimeError):
    """The export did not pass its check; nothing was published."""


def _die_with_parent():
    """Linux: the check's interpreter gets SIGKILL when the exporting process dies, killed or not."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the child ends when its check does


def check_in_fresh_process(saved_model_dir, requests, expected):
    """Runs the SavedModel in a new interpreter importing only tensorflow and tensorflow_text.

    Args:
        requests: {signature name: {input name: array}}.
        expected: {signature name: {output name: array}}, what the signatures must return.

    Returns the check's JSON report; raises ExportError if outputs differ from `expected`. The cases
    file is written into `saved_model_dir` (an export's staging directory) and removed after the
    check, so nothing is left in the temporary directory, even by a killed export.
    """
    cases = os.path.join(saved_model_dir, ".check-cases.npz")
    arrays = {}
    for signature, inputs in requests.items():
        arrays.update({f"{signature}/input/{k}": np.asarray(v) for k, v in inputs.items()})
        arrays.update({f"{signature}/expected/{k}": np.asarray(v) for k, v in expected[signature].items()})
    try:
        np.savez(cases, **arrays)
        result = subprocess.run([sys.executable, _CHECK_SCRIPT, saved_model_dir, cases], capture_output=True,
                                text=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    finally:
        if os.path.exists(cases):
            os.remove(cases)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise ExportError(f"{saved_model_dir}: fresh-process check failed:\n{lines[-1] if lines else result.stderr[-3000:]}")
    return json.loads(lines[-1])


def export_for_serving(server, export_root, name, version=None, metadata=None, base_path=None):
    """Saves `server` for TF Serving at `export_root/name/version`, whole or not at all.

    The SavedModel is written to a staging directory, warmup records and `tfllm_metadata.json` go into
    its `assets.extra`, and it is loaded in a fresh process that imports only tensorflow and
    tensorflow_text, whose answers must match the ones computed here. Only then is it published as its
    version number (see `tfllm.storage.published_directory`: one rename locally; on gs://, an upload
    with saved_model.pb last) and `models.config` rewritten.

    Args:
        server: a tf.Module with `signatures()` ({name: tf.function}, `serving_default` among them) and
            `example_requests()` ({signature name: {input name: tensor}}, for warmup and the check).
        export_root: the export root (`savedmodels/`, or any `tf.io.gfile` path such as gs://bucket/models).
        name: the model's name in TF Serving.
        version: the version number; default: one more than the highest there.
        metadata: JSON-serializable facts to keep with the export (labels, source, metrics).
        base_path: where TF Serving sees `export_root`, for `models.config`.

    Returns:
        (the version directory, the fresh-process check's report).

    Example (not run by the test command: it needs a trained model):
    >>> path, report = export_for_serving(TextClassifierServer(classifier), "savedmodels", "intents")  # doctest: +SKIP
    """
    if not callable(getattr(server, "signatures", None)):
        made_by = ": pass its server(), export_for_serving(model.server(), ...)" if callable(
            getattr(server, "server", None)) else ""
        raise TypeError(f"export_for_serving takes a serving module (a TaskServer), not a {type(server).__name__}"
                        f"{made_by}")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise ValueError(f"version {version!r}: TF Serving's versions are whole numbers, 1 or more")
    model_dir = storage.join(export_root, name)
    version = version or next_version(model_dir)
    final_dir = storage.join(model_dir, str(version))
    if storage.exists(final_dir):
        raise FileExistsError(f"{final_dir} exists; a published version is never overwritten (choose another "
                              "version, or none for the next one)")
    with storage.published_directory(final_dir) as staging:
        signatures = server.signatures()
        tf.saved_model.save(server, staging, signatures=signatures)
        requests = {signature: {k: v.numpy() for k, v in inputs.items()}
                    for signature, inputs in server.example_requests().items()}
        expected = {signature: {k: v.numpy() for k, v in signatures[signature](**inputs).items()}
                    for signature, inputs in requests.items()}
        write_warmup_requests(staging, name, requests)
        with open(os.path.join(staging, "assets.extra", "tfllm_metadata.json"), "w") as f:
            json.dump(metadata or {}, f, indent=2, ensure_ascii=False)
        report = check_in_fresh_process(staging, requests, expected)
    write_models_config(export_root, base_path)
    return final_dir, report
