"""Students for distillation: a task model like its teacher, on a backbone with fewer (or narrower) layers."""

import numpy as np

from tfllm.backbones.sources import Bert


def kept_layers(teacher_layers, student_layers):
    """The teacher's layers (0-based) a student of `student_layers` starts from: every k-th, the top one included.

    Example:
    >>> kept_layers(6, 3), kept_layers(6, 2), kept_layers(12, 4)
    ([1, 3, 5], [2, 5], [2, 5, 8, 11])
    """
    if not 1 <= student_layers <= teacher_layers:
        raise ValueError(f"a student of a {teacher_layers}-layer teacher has 1 to {teacher_layers} layers, "
                         f"not {student_layers}")
    step = teacher_layers / student_layers
    return [int(round((i + 1) * step)) - 1 for i in range(student_layers)]


def kept_units(inner_kernel, outer_kernel, width):
    """The feed-forward units (sorted indices) a narrower layer keeps: the `width` whose weights in and out
    have the largest norms' product, a data-free measure of what each unit adds to the layer's output.

    Example:
    >>> inner = np.array([[1.0, 0.1, 2.0, 0.5]])  # hidden 1 -> 4 units
    >>> outer = np.array([[1.0], [1.0], [0.1], [3.0]])  # 4 units -> hidden 1
    >>> kept_units(inner, outer, 2).tolist()  # unit products 1.0, 0.1, 0.2, 1.5
    [0, 3]
    """
    importance = np.linalg.norm(inner_kernel, axis=0) * np.linalg.norm(outer_kernel, axis=1)
    return np.sort(np.argsort(-importance, kind="stable")[:width])


def student_of(teacher, layers, init="teacher", hidden_dim=None, intermediate_dim=None):
    """A new model of the teacher's class, head and preprocessor, on a backbone of `layers` transformer layers.

    With `init="teacher"` the student starts from the teacher's weights: its embeddings, pooler and
    head, and the layers `kept_layers` picks (every k-th, as in BERT-PKD's "skip" students; DistilBERT
    also halves its teacher so); `intermediate_dim` may narrow those layers' feed-forward part, keeping
    the units `kept_units` picks (halving the layers alone does not halve the time: the embeddings,
    tokenizer and head cost the same). With `init="scratch"` every weight is new, and `hidden_dim` may
    make the student narrower (attention heads keep the teacher's head size; the feed-forward width
    scales, or is `intermediate_dim`). Train it with `compile(distillation=Distillation(teacher))`.

    Args:
        teacher: a trained BERT task model (`TextClassifier`, `TokenClassifier`) on a native Keras backbone.
        layers: the student's transformer layers.
        init: "teacher" or "scratch".
        hidden_dim: the student's hidden size (scratch students only; default the teacher's).
        intermediate_dim: the student's feed-forward width (default the teacher's, scaled with
            `hidden_dim`); with `init="teacher"` at most the teacher's.

    Example (not run by the test command: it reads a trained model):
    >>> teacher = TextClassifier.load("runs/sst2/model")  # doctest: +SKIP
    >>> student = student_of(teacher, layers=3)  # doctest: +SKIP
    >>> student.compile(distillation=Distillation(teacher, temperature=2.0))  # doctest: +SKIP
    >>> student.fit(student.make_dataset(train_examples, training=True), epochs=3)  # doctest: +SKIP
    """
    backbone = teacher.backbone
    if not hasattr(backbone, "transformer_layers"):
        raise ValueError(f"distillation needs the teacher on a native Keras backbone, not {type(backbone).__name__} "
                         "(train the teacher with backbone.native: true)")
    if init not in ("teacher", "scratch"):
        raise ValueError(f"init must be 'teacher' or 'scratch', not {init!r}")
    config = backbone.get_config()
    kept = kept_layers(config["num_layers"], layers)
    config.pop("dtype", None)  # built under the current policy, as `Bert.from_config` does
    config["trainable"] = True  # a teacher in use is frozen; its student learns
    config["num_layers"] = layers
    if hidden_dim and hidden_dim != config["hidden_dim"]:
        if init == "teacher":
            raise ValueError(f"a student that starts from the teacher's weights has its hidden size "
                             f"{config['hidden_dim']}, not {hidden_dim} (init='scratch' builds a narrower one)")
        head_size = config["hidden_dim"] // config["num_heads"]
        if hidden_dim % head_size:
            raise ValueError(f"hidden_dim {hidden_dim} is not a multiple of the teacher's attention head size "
                             f"{head_size}")
        config["intermediate_dim"] = config["intermediate_dim"] * hidden_dim // config["hidden_dim"]
        config.update(hidden_dim=hidden_dim, num_heads=hidden_dim // head_size)
    if intermediate_dim:
        if init == "teacher" and intermediate_dim > config["intermediate_dim"]:
            raise ValueError(f"a student that starts from the teacher's weights keeps at most its "
                             f"{config['intermediate_dim']} feed-forward units, not {intermediate_dim}")
        config["intermediate_dim"] = intermediate_dim
    student = type(teacher)(Bert(type(backbone).from_config(config), teacher.preprocessor), **teacher.head_config())
    if init == "teacher":
        _copy_teacher_weights(teacher, student, kept)
    return student


def _copy_teacher_weights(teacher, student, kept):
    """The student's backbone layers and head from the teacher's: the same names, transformer layers as `kept` says."""
    for layer in student.backbone.layers:
        if layer.weights and layer not in student.backbone.transformer_layers:
            layer.set_weights(teacher.backbone.get_layer(layer.name).get_weights())
    for student_layer, index in zip(student.backbone.transformer_layers, kept):
        student_layer.set_weights(_narrowed(teacher.backbone.transformer_layers[index], student_layer))
    for layer in student.layers:
        if layer.weights and layer is not student.backbone:
            layer.set_weights(teacher.get_layer(layer.name).get_weights())


def _narrowed(teacher_layer, student_layer):
    """The teacher layer's weights for the student's: as they are, or with the feed-forward units
    `kept_units` picks when the student's feed-forward part is narrower."""
    weights = {w.path.split("/", 1)[1]: w.numpy() for w in teacher_layer.weights}  # paths without the layer's name
    inner, outer = weights["feedforward_intermediate_dense/kernel"], weights["feedforward_output_dense/kernel"]
    width = next(w.shape[1] for w in student_layer.weights if w.path.endswith("feedforward_intermediate_dense/kernel"))
    units = kept_units(inner, outer, width)
    narrowed = {"feedforward_intermediate_dense/kernel": inner[:, units],
                "feedforward_intermediate_dense/bias": weights["feedforward_intermediate_dense/bias"][units],
                "feedforward_output_dense/kernel": outer[units]}
    return [narrowed.get(path, weights[path]) for path in (w.path.split("/", 1)[1] for w in student_layer.weights)]
