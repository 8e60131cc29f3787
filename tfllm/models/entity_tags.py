"""BIO and BIOES tags: entity spans to word tags for training, and word tags back to spans in the graph."""

import tensorflow as tf

_PREFIX_CODES = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4}


class EntityTags:
    """The tag set of a tagging scheme over entity types, and the conversions both ways.

    Tag 0 is "O"; then, per type in order, B-/I- (bio) or B-/I-/E-/S- (bioes).

    Args:
        types: the entity type names.
        scheme: "bio" or "bioes".

    Example:
    >>> tags = EntityTags(["LOC", "PER"], "bio")
    >>> tags.names
    ['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER']
    >>> tags.word_tags([(0, 5), (6, 9), (10, 15)], [(6, 15, "PER")])
    [0, 3, 4]
    """

    def __init__(self, types, scheme="bio"):
        if scheme not in ("bio", "bioes"):
            raise ValueError(f"tag scheme must be 'bio' or 'bioes', not {scheme!r}")
        types = [str(t) for t in types]
        if not types or len(set(types)) != len(types):
            raise ValueError(f"entity types must be a non-empty list of distinct names, not {types}")
        self.types, self.scheme = types, scheme
        prefixes = "BI" if scheme == "bio" else "BIES"
        self.names = ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in prefixes]
        self._ids = {name: i for i, name in enumerate(self.names)}

    def __len__(self):
        return len(self.names)

    def word_tags(self, words, entities):
        """Tag ids of words [(start, end)] under entities [(start, end, type)] (the same offset unit).

        A word belongs to the entity its start falls in; the entity's first word is B- (S- for a one-word
        entity under bioes), its last E- (bioes), the others I-.
        """
        tags = [0] * len(words)
        members = {}
        for index, (start, _) in enumerate(words):
            for number, (entity_start, entity_end, _) in enumerate(entities):
                if entity_start <= start < entity_end:
                    members.setdefault(number, []).append(index)
                    break
        for number, indices in members.items():
            kind = entities[number][2]
            for position, index in enumerate(indices):
                prefix = "B" if position == 0 else "I"
                if self.scheme == "bioes":
                    last = position == len(indices) - 1
                    prefix = ("S" if last else "B") if position == 0 else ("E" if last else "I")
                tags[index] = self._ids[f"{prefix}-{kind}"]
        return tags

    def decode(self, tag_ids, scores, starts, ends, mask):
        """Entities of predicted word tags, read as conlleval reads them (see `entities_from_tags`), in TF ops.

        Args:
            tag_ids: [batch, words] int32 predicted tags.
            scores: [batch, words] float32 probability of each predicted tag.
            starts, ends: [batch, words] int64 offsets of the words.
            mask: [batch, words] bool, False for padding and for words without a prediction.

        Returns:
            Ragged [batch, (entities)] tensors: `type_ids` (index into `types`), `starts`, `ends` (of the
            first and last word) and `scores` (the mean tag probability over the entity's words).
        """
        per_type = (len(self) - 1) // len(self.types)
        kinds = tf.constant([0] + [1 + i // per_type for i in range(len(self) - 1)])
        prefixes = tf.constant([_PREFIX_CODES[name[0]] for name in self.names])
        kind = tf.where(mask, tf.gather(kinds, tag_ids), 0)
        prefix = tf.gather(prefixes, tag_ids)
        previous_kind = tf.pad(kind[:, :-1], [[0, 0], [1, 0]])
        previous_prefix = tf.pad(prefix[:, :-1], [[0, 0], [1, 0]])
        begins = (kind > 0) & ((prefix == _PREFIX_CODES["B"]) | (prefix == _PREFIX_CODES["S"])
                               | (previous_kind != kind) | (previous_prefix == _PREFIX_CODES["E"])
                               | (previous_prefix == _PREFIX_CODES["S"]))
        counts = tf.reduce_sum(tf.cast(begins, tf.int32), axis=1)
        # Each entity word's entity number across the batch: entities are numbered in reading order.
        numbers = tf.cumsum(tf.reshape(tf.cast(begins, tf.int32), [-1])) - 1
        inside = tf.reshape(kind > 0, [-1])
        segments, total = tf.boolean_mask(numbers, inside), tf.reduce_sum(counts)
        pick = lambda values: tf.boolean_mask(tf.reshape(values, [-1]), inside)  # noqa: E731
        ragged = lambda values: tf.RaggedTensor.from_row_lengths(values, tf.cast(counts, tf.int64))  # noqa: E731
        return {
            "type_ids": ragged(tf.math.unsorted_segment_max(pick(kind), segments, total) - 1),
            "starts": ragged(tf.math.unsorted_segment_min(pick(starts), segments, total)),
            "ends": ragged(tf.math.unsorted_segment_max(pick(ends), segments, total)),
            "scores": ragged(tf.math.unsorted_segment_mean(pick(scores), segments, total)),
        }
