"""Loads a SavedModel as TF Serving would and compares its answers with the expected ones.

Run by path in a fresh interpreter: it imports only tensorflow and tensorflow_text (whose ops TF Serving
links in), and fails if loading or running the model imports keras, keras_hub or tfllm modules.

Usage: python fresh_process_check.py SAVED_MODEL_DIR CASES.npz
CASES.npz holds `input/<name>` and `expected/<name>` arrays; prints one JSON line, exits 1 on mismatch.
"""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF Text ops the graph uses)

# `import tensorflow` already loads parts of keras; what loading the model adds beyond that is foreign.
_BASELINE_MODULES = set(sys.modules)
_FOREIGN_PACKAGES = {"keras", "keras_hub", "tf_keras", "tfllm"}


def main(saved_model_dir, cases_path):
    cases = np.load(cases_path, allow_pickle=True)
    inputs = {k.split("/", 1)[1]: tf.constant(cases[k]) for k in cases.files if k.startswith("input/")}
    expected = {k.split("/", 1)[1]: cases[k] for k in cases.files if k.startswith("expected/")}
    outputs = tf.saved_model.load(saved_model_dir).signatures["serving_default"](**inputs)
    problems = []
    for name, want in expected.items():
        got = outputs[name].numpy()
        if got.shape != want.shape:
            problems.append(f"{name}: shape {got.shape}, expected {want.shape}")
        elif want.dtype.kind in "fc":
            if not np.allclose(got, want, atol=1e-4):
                problems.append(f"{name}: differs by up to {np.abs(got - want).max():.3g}")
        elif not np.array_equal(got, want.astype(got.dtype)):
            problems.append(f"{name}: {got.tolist()} != {want.tolist()}")
    foreign = sorted(m for m in set(sys.modules) - _BASELINE_MODULES if m.split(".")[0] in _FOREIGN_PACKAGES)
    print(json.dumps({"ok": not problems and not foreign, "problems": problems, "foreign_modules": foreign,
                      "outputs": sorted(outputs)}))
    return 0 if not problems and not foreign else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
