"""GPT-2's byte-level BPE tokenizer, in the graph, with a cache that cannot grow without bound."""

import functools

import keras_hub
import tensorflow as tf
from keras_hub.src.tokenizers.byte_pair_tokenizer import BytePairTokenizerCache

END_TOKEN = "<|endoftext|>"


class BoundedBytePairCache(BytePairTokenizerCache):
    """KerasHub's word -> merged-pieces cache, emptied (but for `pinned` words) when it would exceed `max_entries`.

    KerasHub's cache keeps every word it has seen: in a server that runs for months, on user text,
    that table grows until the process runs out of memory.
    """

    def __init__(self, max_entries, pinned):
        super().__init__()
        self.max_entries = max_entries
        self.pinned = list(pinned)

    def insert(self, keys, values):
        def empty():
            ids, _ = self.id2value.export()
            with tf.control_dependencies([self.id2value.remove(ids)]):
                if self.pinned:
                    super(BoundedBytePairCache, self).insert(self.pinned, self.pinned)
            return tf.constant(True)

        full = self.id2value.size() + tf.size(keys, out_type=tf.int64) > self.max_entries
        emptied = tf.cond(full, empty, lambda: tf.constant(False))
        with tf.control_dependencies([emptied]):
            return super().insert(keys, values)

    def size(self):
        return self.id2value.size()


class GPT2Tokenizer(keras_hub.models.GPT2Tokenizer):
    """KerasHub's `GPT2Tokenizer` (vocab.json + merges.txt) with a bounded word cache.

    Args:
        vocabulary: dict or path of vocab.json; `<|endoftext|>` must be in it.
        merges: list or path of merges.txt.
        cache_size: the most words the cache holds before it is emptied.

    Example (not run by the test command: it needs GPT-2 vocabulary files):
    >>> tokenizer = GPT2Tokenizer("vocab.json", "merges.txt")  # doctest: +SKIP
    >>> tokenizer.detokenize(tokenizer(["Hello world"]))  # doctest: +SKIP
    """

    def __init__(self, vocabulary=None, merges=None, cache_size=50_000, **kwargs):
        self.cache_size = cache_size
        super().__init__(vocabulary=vocabulary, merges=merges, **kwargs)
        # Traced once per tokenizer, then called by every graph that tokenizes a batch of strings (each
        # serving signature, each server of the model, `token_ids`): tracing KerasHub's byte-pair graph
        # takes seconds per graph, running it eagerly longer. A partial, one object per tokenizer: TensorFlow
        # counts the traces of a method's code object across instances, and warned of "retracing" at the
        # fifth tokenizer of a process, though each traces once.
        self._tokenize_batch = tf.function(functools.partial(super().tokenize),
                                           input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)

    def tokenize(self, inputs):
        if isinstance(inputs, tf.Tensor) and inputs.dtype == tf.string and inputs.shape.rank == 1:
            return self._tokenize_batch(inputs)
        return super().tokenize(inputs)

    def token_ids(self, texts):
        """The token ids of a list of strings, as lists of ints (for building training examples)."""
        return [row.tolist() for row in self._tokenize_batch(tf.constant(list(texts), tf.string)).numpy()]

    def set_vocabulary_and_merges(self, vocabulary, merges):
        super().set_vocabulary_and_merges(vocabulary, merges)
        if self.vocabulary is not None:
            self.cache = BoundedBytePairCache(self.cache_size, self.unsplittable_tokens)
            self.cache.insert(self.unsplittable_tokens, self.unsplittable_tokens)

    def get_config(self):
        return {**super().get_config(), "cache_size": self.cache_size}
