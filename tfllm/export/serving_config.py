"""The TF Serving `models.config` for every model under an export root."""

import os
import re

import tensorflow as tf

from tfllm import storage


def served_models(export_root):
    """Names of models under `export_root` with at least one complete numeric version."""
    names = []
    for name in sorted(tf.io.gfile.listdir(export_root)) if tf.io.gfile.isdir(export_root) else []:
        name = name.rstrip("/")
        model_dir = storage.join(export_root, name)
        if tf.io.gfile.isdir(model_dir) and any(
            version.rstrip("/").isdigit() and tf.io.gfile.exists(storage.join(model_dir, version, "saved_model.pb"))
            for version in tf.io.gfile.listdir(model_dir)
        ):
            names.append(name)
    return names


def write_models_config(export_root, base_path=None):
    """Writes `export_root/models.config` listing every model there; returns its path.

    Args:
        export_root: the `savedmodels/` directory.
        base_path: where TF Serving sees `export_root` (e.g. "/models" in the tensorflow/serving container);
            default: its absolute path here (a gs:// root as it is: TF Serving reads gs:// itself).
    """
    base_path = base_path or (export_root if storage.is_remote(export_root) else os.path.abspath(export_root))
    entries = "".join(
        f'  config {{\n    name: "{name}"\n    base_path: "{base_path.rstrip("/")}/{name}"\n'
        f'    model_platform: "tensorflow"\n  }}\n'
        for name in served_models(export_root)
    )
    path = storage.join(export_root, "models.config")
    staging = path + ".partial"
    with tf.io.gfile.GFile(staging, "w") as f:
        f.write(f"model_config_list {{\n{entries}}}\n")
    tf.io.gfile.rename(staging, path, overwrite=True)
    return path


def next_version(model_dir):
    """One more than the highest numeric version under `model_dir` (1 for a new model)."""
    versions = [int(v.rstrip("/")) for v in tf.io.gfile.listdir(model_dir) if re.fullmatch(r"\d+/?", v)] \
        if tf.io.gfile.isdir(model_dir) else []
    return max(versions, default=0) + 1
