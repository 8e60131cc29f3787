"""The label set of a classification task, stored with the model."""

from tfllm.data.examples import BadRow


class LabelSet:
    """An ordered list of label names; a label's id is its position.

    Example:
    >>> from tfllm.data.readers import ColumnSpec, read_text_examples
    >>> examples = read_text_examples("examples/intents/train.csv", ColumnSpec(label="intent")).examples
    >>> labels = LabelSet.from_examples(examples)
    >>> labels.names[:3], labels.id("track_order")
    (['account_login', 'cancel_order', 'change_address'], 7)
    """

    def __init__(self, names):
        names = [str(name) for name in names]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates or not names:
            raise ValueError(f"labels must be a non-empty list of distinct names (repeated: {duplicates})")
        self.names = names
        self._ids = {name: i for i, name in enumerate(names)}

    def __len__(self):
        return len(self.names)

    @classmethod
    def from_examples(cls, examples):
        """The sorted set of labels seen in `examples`; integer labels sort numerically."""
        seen = set()
        for example in examples:
            seen.update(example.label if isinstance(example.label, tuple) else [example.label])
        seen.discard(None)
        numeric = all(name.lstrip("-").isdigit() for name in seen)
        return cls(sorted(seen, key=int if numeric else str))

    def id(self, name):
        return self._ids[name]

    def unknown(self, examples, field):
        """Bad rows for examples whose labels are not in this set."""
        bad_rows = []
        for example in examples:
            labels = example.label if isinstance(example.label, tuple) else (example.label,)
            strangers = [label for label in labels if label is not None and label not in self._ids]
            if strangers:
                path, _, line = example.source.rpartition(":")
                bad_rows.append(BadRow(path, int(line), field, f"unknown label(s) {strangers}; known: {self.names}"))
        return bad_rows
