"""Named-entity recognition: entities of raw texts, with types, scores and character offsets."""

from tfllm.data.entity_readers import read_entity_examples
from tfllm.evaluation.classification_report import format_report, write_predictions
from tfllm.evaluation.entity_metrics import entity_report
from tfllm.models.token_classifier import TokenClassifier
from tfllm.tasks.task import BertTask, kept_examples


class TokenClassificationTask(BertTask):
    """A `TokenClassifier` (BIO or BIOES word tags) fine-tuned on CoNLL or CLUENER files; served as
    `TokenClassifierServer`.

    Predictions are rows of `text` and `entities`, each a dict of `text`, `type`, character `start` and
    `end` (end exclusive) and `score`.
    """

    model_class = TokenClassifier
    report_keys = ("precision", "recall", "micro_f1", "examples")
    served_monitors = {"entity_f1": "micro_f1"}

    def read(self, config, path, labeled=True):
        result = read_entity_examples(path, config.data.format, config.data.on_bad_rows)
        return kept_examples(path, result, config.data.limit)

    def build(self, config, train_examples):
        types = config.model.entity_types or sorted({e.type for example in train_examples for e in example.entities})
        return TokenClassifier(self.bert(config, train_examples), types, scheme=config.model.tag_scheme,
                               dropout=config.training.dropout)

    def texts(self, examples):
        return [example.text for example in examples]

    def cut_advice(self, config):
        return "; their words past the cut get no tag, in training and served answers: raise backbone.sequence_length"

    def dataset(self, config, model, examples, training):
        return model.make_dataset(examples, batch_size=config.training.batch_size, training=training,
                                  fixed_length=config.training.fixed_length, seed=config.training.seed)

    def score(self, config, model, examples, rows, directory):
        gold = [[(e.start, e.end, e.type) for e in example.entities] for example in examples]
        report = entity_report(gold, [[(p["start"], p["end"], p["type"]) for p in row["entities"]] for row in rows],
                               model.tags.types)
        write_predictions(({"source": example.source, "text": example.text, "entities": row["entities"],
                            "gold": [{"text": example.text[e.start:e.end], "type": e.type, "start": e.start,
                                      "end": e.end} for e in example.entities]}
                           for example, row in zip(examples, rows)), directory)
        return report

    def summary(self, report):
        return format_report(report)

    def metadata(self, config, model, server):
        return {"entity_types": model.tags.types, "tag_scheme": model.tags.scheme,
                "sequence_length": model.preprocessor.sequence_length}
