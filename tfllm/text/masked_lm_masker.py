"""Dynamic masking for masked-LM pretraining, BERT's 80/10/10 rule, as TensorFlow ops for tf.data."""

import tensorflow as tf
import tensorflow_text as tf_text

from tfllm.text.vocabulary import read_vocabulary, special_token_ids


class MaskedLMMasker(tf.Module):
    """Picks the tokens a masked LM must predict, anew every time a batch is drawn, and corrupts them.

    Of the chosen tokens (`rate` of each sequence, rounded up, at most `max_predictions`), 80% become [MASK], 10% a
    random token and 10% stay as they are (Devlin et al. 2019). [CLS], [SEP] and [PAD] are never chosen.
    With `whole_word`, words are chosen instead of pieces and all pieces of a chosen word are predicted
    (a "##" piece continues the word before it), so the model cannot guess "##ing" from "runn"; a
    sequence's predictions are still capped at `max_predictions` pieces.

    The random choices come from TensorFlow's op seeds: each epoch masks differently (dynamic masking,
    as RoBERTa), and a resumed run draws other masks than an uninterrupted one would have.

    Args:
        vocabulary_file: the WordPiece vocabulary (with [MASK]).
        rate: the share of tokens (or words) chosen.
        max_predictions: the most predicted tokens per sequence (the width of `mask_positions`).
        whole_word: choose whole words.

    Example:
    >>> import os
    >>> from tfllm.backbones.sources import embedded_default_path
    >>> masker = MaskedLMMasker(os.path.join(embedded_default_path(), "vocab.txt"), max_predictions=20)
    >>> features = masker(tf.ragged.constant([[101, 2204, 2143, 102]]))  # [CLS] good film [SEP]
    >>> sorted(features), features["mask_positions"].shape
    (['mask_ids', 'mask_positions', 'mask_weights', 'token_ids'], TensorShape([1, 20]))
    """

    def __init__(self, vocabulary_file, rate=0.15, max_predictions=20, whole_word=False, name=None):
        super().__init__(name=name)
        ids = special_token_ids(vocabulary_file)
        if "[MASK]" not in ids:
            raise ValueError(f"{vocabulary_file}: the vocabulary has no [MASK] token; masked-LM training needs one")
        tokens = read_vocabulary(vocabulary_file)
        self.rate, self.max_predictions, self.whole_word = rate, max_predictions, whole_word
        self.mask_id = ids["[MASK]"]
        self._continues_word = tf.constant([token.startswith("##") for token in tokens])
        self._selector = tf_text.RandomItemSelector(
            max_selections_per_batch=max_predictions, selection_rate=rate,
            unselectable_ids=[ids["[CLS]"], ids["[SEP]"], ids["[PAD]"]])
        self._chooser = tf_text.MaskValuesChooser(len(tokens), self.mask_id, mask_token_rate=0.8,
                                                  random_token_rate=0.1)

    def _words(self, token_ids):
        """Regroups ragged [batch, (tokens)] into [batch, (words), (pieces)]: a word starts at each non-## piece."""
        starts = tf.logical_not(tf.gather(self._continues_word, token_ids.values))
        starts = tf.tensor_scatter_nd_update(starts, tf.expand_dims(token_ids.row_starts(), 1),
                                             tf.ones_like(token_ids.row_starts(), tf.bool))  # each row's first
        words = tf.RaggedTensor.from_row_starts(token_ids.values, tf.where(starts)[:, 0])
        words_per_row = tf.math.segment_sum(tf.cast(starts, tf.int64), token_ids.value_rowids())
        return tf.RaggedTensor.from_row_lengths(words, words_per_row)

    def __call__(self, token_ids):
        """Masks ragged [batch, (tokens)] int32 ids (already packed with [CLS] and [SEP]).

        Returns a dict: `token_ids` (ragged, corrupted), and [batch, max_predictions] tensors
        `mask_positions` (int32), `mask_ids` (the original ids, int32) and `mask_weights` (1.0 where a
        prediction is real, 0.0 for padding).
        """
        items = self._words(token_ids) if self.whole_word else token_ids
        masked, positions, originals = tf_text.mask_language_model(items, self._selector, self._chooser, axis=1)
        if self.whole_word:
            masked = masked.merge_dims(-2, -1) if masked.shape.rank == 3 else masked
        shape = [None, self.max_predictions]
        return {
            "token_ids": tf.cast(masked, tf.int32),
            "mask_positions": tf.cast(positions.to_tensor(shape=shape), tf.int32),
            "mask_ids": tf.cast(originals.to_tensor(shape=shape), tf.int32),
            "mask_weights": tf.cast(tf.sequence_mask(tf.minimum(positions.row_lengths(), self.max_predictions),
                                                     self.max_predictions), tf.float32),
        }
