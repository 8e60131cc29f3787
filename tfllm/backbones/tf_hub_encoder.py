"""A Keras 3 layer that fine-tunes any encoder with the TF-Hub BERT interface."""

import keras
import tensorflow as tf


class TFHubEncoder(keras.layers.Layer):
    """Wraps a restored TF-Hub encoder so that Keras 3 trains its variables.

    `hub.KerasLayer` fails in Keras 3 functional models and hides its variables from Keras 3 optimizers
    (README.md, "Facts about the stack"). This layer registers every restored `tf.Variable` as a Keras variable that aliases it, so
    `fit` updates the very variables the restored function reads, and passes `training` through (dropout).
    Prefer `convert_tf_hub_encoder` for standard BERT encoders: a native backbone compiles once with XLA.

    Args:
        encoder: the object `tf.saved_model.load` returned for the encoder.
        handle: where it came from, kept for saving and messages.

    Example (not run by the test command: it downloads a TF-Hub encoder):
    >>> encoder, _ = load_tf_hub_saved_model("path/to/encoder")  # doctest: +SKIP
    >>> layer = TFHubEncoder(encoder, handle="path/to/encoder")  # doctest: +SKIP
    """

    def __init__(self, encoder, handle, **kwargs):
        super().__init__(**kwargs)
        self.handle = handle
        self._encoder = encoder
        restored = getattr(encoder, "variables", None)
        if restored is None:
            raise ValueError(f"{handle}: not a reusable TF-Hub SavedModel (it has no `variables` attribute).")
        trainable_ids = {id(v) for v in encoder.trainable_variables}
        for variable in restored:
            self._track_variable(keras.Variable(
                initializer=variable,
                trainable=id(variable) in trainable_ids,
                # Keras variable names may not hold "/" or ":".
                name=variable.name.split(":")[0].replace("/", "__"),
            ))
        probe = self._call_encoder(tf.ones([1, 2], tf.int32), tf.ones([1, 2], tf.int32), tf.zeros([1, 2], tf.int32))
        self.hidden_dim = int(probe["pooled_output"].shape[-1])

    def _call_encoder(self, token_ids, padding_mask, segment_ids, training=False):
        return self._encoder(
            {"input_word_ids": token_ids, "input_mask": padding_mask, "input_type_ids": segment_ids},
            training=training,
        )

    def call(self, inputs, training=False):
        outputs = self._call_encoder(
            inputs["token_ids"], inputs["padding_mask"], inputs["segment_ids"], training=bool(training)
        )
        return {"sequence_output": outputs["sequence_output"], "pooled_output": outputs["pooled_output"]}

    def compute_output_spec(self, inputs, training=False):
        batch, length = inputs["token_ids"].shape
        return {
            "sequence_output": keras.KerasTensor((batch, length, self.hidden_dim), dtype="float32"),
            "pooled_output": keras.KerasTensor((batch, self.hidden_dim), dtype="float32"),
        }
