"""The label set of a classification task, stored with the model."""

from tfllm.data.examples import BadRow


def label_name_problem(name, multi_label=False):
    """Why `name` cannot be a served label, or None: a blank one reads as no answer, and a multi-label
    model's `label_names` output joins a text's labels with "," for clients to split.

    Example:
    >>> label_name_problem("sports"), label_name_problem("arts, culture"), label_name_problem(" ")
    (None, None, 'is blank: its answers would read as no answer')
    >>> label_name_problem("arts, culture", multi_label=True)
    'holds ",", which separates the labels of a multi-label answer (label_names)'
    """
    if not name.strip():
        return "is blank: its answers would read as no answer"
    if multi_label and "," in name:
        return 'holds ",", which separates the labels of a multi-label answer (label_names)'
    return None


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
