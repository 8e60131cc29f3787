"""Relation extraction: the relation between a marked head and tail entity of a text.

It is text classification of texts whose two entities are marked (see `tfllm.text.entity_markers`):
training marks them in the text, and the served graph marks them from character offsets.
"""

from tfllm.data.relation_reader import marked_text_examples, read_relation_examples
from tfllm.tasks.task import kept_examples
from tfllm.tasks.text_classification import TextClassificationTask


class RelationExtractionTask(TextClassificationTask):
    """Reads relation JSON lines (`text`, `head` and `tail` spans, `relation`); serves text + spans.

    Predictions are rows of `text`, `label` (the relation) and `probabilities`.
    """

    relation = True

    def read(self, config, path, labeled=True):
        result = read_relation_examples(path, config.data.on_bad_rows, labeled, config.data.label_column)
        return kept_examples(path, result, config.data.limit)

    def head(self, config):
        return dict(pooling=config.model.pooling)

    def training_examples(self, examples):
        return marked_text_examples(examples)
