"""Which tf.distribute strategy a job runs under: one training path from a laptop to a TPU pod."""

import json
import os
import socket

import tensorflow as tf

from tfllm.configs.sections import STRATEGIES
from tfllm.training import keras_distribution_fix


def local_tf_configs(workers):
    """TF_CONFIG values (JSON strings, one per worker) for a cluster of `workers` processes on 127.0.0.1.

    Starts nothing: run one training process per value, each with its TF_CONFIG set, to try a
    multi-worker job on one machine (the first is the chief).

    Example:
    >>> configs = local_tf_configs(2)
    >>> json.loads(configs[1])["task"]
    {'type': 'worker', 'index': 1}
    """
    sockets = [socket.socket() for _ in range(workers)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}) for index in range(workers)]


def _workers_in_tf_config():
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {os.environ['TF_CONFIG'][:200]}") from None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if not isinstance(cluster, dict):
        raise ValueError(f'TF_CONFIG: expected {{"cluster": {{"worker": [...]}}, "task": {{...}}}}, '
                         f'got {config!r:.200}')
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def resolve_strategy(name="auto", tpu=None):
    """Returns the `tf.distribute.Strategy` a job should build, compile and fit its model under.

    Args:
        name: "auto" picks "tpu" when `tpu` is given, "multi_worker" when TF_CONFIG names more than one
            worker, "mirrored" with several GPUs, else TensorFlow's default strategy (one device, the
            GPU if there is one). "mirrored" replicates over
            this machine's GPUs; "multi_worker" over the machines in TF_CONFIG (MultiWorkerMirroredStrategy);
            "tpu" connects to `tpu` (a TPU name or grpc:// address; "local" on a TPU VM).
        tpu: the TPU for "tpu".

    Mirrored and multi-worker strategies get `keras_distribution_fix` (Keras 3.15 needs it there). Call
    this before anything else runs TensorFlow ops: a multi-worker strategy must be the first.

    Example:
    >>> resolve_strategy("cpu").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {name!r}")
    # Physical, not logical: listing logical devices starts the runtime, and MultiWorkerMirroredStrategy
    # must be created before it starts ("Collective ops must be configured at program startup").
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        name = ("tpu" if tpu else "multi_worker" if _workers_in_tf_config() > 1 else
                "mirrored" if len(gpus) > 1 else None)
        if name is None:
            return tf.distribute.get_strategy()
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "gpu":
        if not gpus:
            raise ValueError("strategy gpu: TensorFlow sees no GPU on this machine")
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    if name == "tpu":
        if not tpu:
            raise ValueError("strategy tpu needs training.tpu: the TPU's name, grpc:// address, or local")
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    keras_distribution_fix.apply()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if _workers_in_tf_config() < 1:
        raise ValueError("strategy multi_worker needs TF_CONFIG naming the cluster and this worker's task")
    return tf.distribute.MultiWorkerMirroredStrategy()
