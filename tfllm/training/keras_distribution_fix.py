"""The one place where tfllm mends Keras 3 (3.15) for tf.distribute's mirrored and multi-worker strategies.

Two faults in `keras.src.backend.tensorflow.trainer`, both measured on Keras 3.15.1 with TF 2.21:

1. Before the first step, `fit` builds the model on one batch that it first reduces across replicas
   with `strategy.reduce("MEAN", batch)`. Under MultiWorkerMirroredStrategy that is a collective over
   eager PerReplica values and fails ("Attempt to convert a value (PerReplica...) to a Tensor"); under
   MirroredStrategy it fails for bool and string batches (no AddN for them). Only the batch's shapes
   and dtypes matter there, so the mend builds on the first replica's local batch instead.
2. After each step, the logs (scalars) are reduced across workers with
   `strategy.reduce("MEAN", value, axis=0)`, and a scalar has no axis 0 ("Invalid reduction dimension
   0 for input with 0 dimensions"). The mend reduces them with `axis=None`: the mean over replicas.

`tests/test_distribution.py` runs unmended Keras on two workers and fails once upstream no longer
needs this module, so that it is removed then.
"""

import tensorflow as tf
from keras.src import tree
from keras.src.backend.tensorflow import trainer as keras_tf_trainer

_original_reduce_per_replica = keras_tf_trainer.reduce_per_replica


def _build_on_local_batch(self, iterator=None, data_batch=None):
    if self._distribute_strategy is None:
        return
    if iterator is not None:
        for _, _, batches in iterator:
            first = next(batches)
            data_batch = tree.map_structure(
                lambda value: (self.distribute_strategy.experimental_local_results(value)[0]
                               if isinstance(value, tf.distribute.DistributedValues) else value), first)
            break
    with self.distribute_strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def _reduce_logs_over_replicas(values, strategy, reduction):
    if reduction in ("auto", "mean") and keras_tf_trainer._collective_all_reduce_multi_worker(strategy):
        return tree.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
    return _original_reduce_per_replica(values, strategy, reduction)


def apply():
    """Mends Keras's TensorFlow trainer in this process (idempotent)."""
    keras_tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _build_on_local_batch
    keras_tf_trainer.reduce_per_replica = _reduce_logs_over_replicas

