"""Which Keras dtype policy a job trains under: float32, or mixed precision where the hardware runs it fast.

Mixed policies keep variables in float32 and compute in bfloat16 or float16. Heads compute their logits
in float32, and `mixed_float16` gets dynamic loss scaling from Keras (`compile` wraps the optimizer in a
`LossScaleOptimizer`). The saved weights are float32 either way, and evaluation, prediction and export
compute in float32: serving hardware is often not the training hardware.
"""

import contextlib
import logging

import keras
import tensorflow as tf

from tfllm.configs.sections import PRECISIONS

# CPU features with native bfloat16 matrix units; elsewhere bfloat16 is emulated and slower than float32.
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bfloat16():
    """True when this CPU has AVX512_BF16 or AMX (Linux: read from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as file:
            flags = next((line.split(":", 1)[1].split() for line in file if line.startswith("flags")), [])
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


def _gpu_has_float16(gpus):
    """Tensor cores (compute capability 7.0, Volta, or newer) on every GPU."""
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if tuple(capability) < (7, 0):
            return False
    return True


def resolve_precision(name="float32", strategy=None):
    """Returns the Keras dtype policy name for `training.precision`.

    Args:
        name: "float32"; "mixed_bfloat16" (TPU; CPUs with AVX512_BF16 or AMX; Ampere and newer GPUs);
            "mixed_float16" (GPUs, with loss scaling); or "auto": bfloat16 on TPU, float16 on GPUs with
            tensor cores, bfloat16 on CPUs that have it, else float32.
        strategy: the job's `tf.distribute.Strategy`, to tell a TPU job.

    Example:
    >>> resolve_precision("float32")
    'float32'
    """
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {name!r}")
    gpus = tf.config.list_physical_devices("GPU")
    on_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    if name == "auto":
        if on_tpu:
            return "mixed_bfloat16"
        if gpus:
            return "mixed_float16" if _gpu_has_float16(gpus) else "float32"
        return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"
    if name == "mixed_float16" and not gpus:
        raise ValueError("precision mixed_float16 needs a GPU; use mixed_bfloat16 on TPUs and CPUs")
    if name == "mixed_bfloat16" and not (gpus or on_tpu or cpu_has_bfloat16()):
        logging.warning("This CPU has no AVX512_BF16 or AMX: bfloat16 is emulated and slower than float32.")
    return name


@contextlib.contextmanager
def precision_scope(name="float32", strategy=None):
    """Builds the models made inside it under `name`'s policy (see `resolve_precision`); yields that policy.

    The global policy comes back afterwards, so models built later in the process (evaluation, export)
    compute in float32.

    Example:
    >>> with precision_scope("float32") as policy:
    ...     policy
    'float32'
    """
    previous = keras.config.dtype_policy()
    policy = resolve_precision(name, strategy)
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)
