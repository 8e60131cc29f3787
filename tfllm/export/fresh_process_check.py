"""Loads a SavedModel as TF Serving would and compares its answers with the expected ones.

Run by path in a fresh interpreter: it imports only tensorflow and tensorflow_text (whose ops TF Serving
links in), and fails if loading or running the model imports keras, keras_hub or tfllm modules.

Usage: python fresh_process_check.py SAVED_MODEL_DIR CASES.npz
CASES.npz holds `<signature>/input/<name>` and `<signature>/expected/<name>` arrays; prints one JSON
line, exits 1 on any mismatch.
"""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF Text ops the graph uses)

# `import tensorflow` already loads parts of keras; what loading the model adds beyond that is foreign.
_BASELINE_MODULES = set(sys.modules)
_FOREIGN_PACKAGES = {"keras", "keras_hub", "tf_keras", "tfllm"}


def _differences(name, got, want):
    if got.shape != want.shape:
        return [f"{name}: shape {got.shape}, expected {want.shape}"]
    if want.dtype.kind in "fc":
        return [] if np.allclose(got, want, atol=1e-4) else [f"{name}: differs by up to {np.abs(got - want).max():.3g}"]
    return [] if np.array_equal(got, want.astype(got.dtype)) else [f"{name}: {got.tolist()} != {want.tolist()}"]


def main(saved_model_dir, cases_path):
    cases = np.load(cases_path, allow_pickle=True)
    model = tf.saved_model.load(saved_model_dir)
    problems, output_names = [], {}
    for signature in sorted({key.split("/")[0] for key in cases.files}):
        inputs = {k.split("/")[2]: tf.constant(cases[k]) for k in cases.files if k.startswith(f"{signature}/input/")}
        outputs = model.signatures[signature](**inputs)
        output_names[signature] = sorted(outputs)
        for key in cases.files:
            if key.startswith(f"{signature}/expected/"):
                name = key.split("/")[2]
                problems += _differences(f"{signature}: {name}", outputs[name].numpy(), cases[key])
    foreign = sorted(m for m in set(sys.modules) - _BASELINE_MODULES if m.split(".")[0] in _FOREIGN_PACKAGES)
    print(json.dumps({"ok": not problems and not foreign, "problems": problems, "foreign_modules": foreign,
                      "outputs": output_names.get("serving_default"), "signatures": output_names}))
    return 0 if not problems and not foreign else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
