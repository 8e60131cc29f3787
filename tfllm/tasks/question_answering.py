"""Extractive question answering: the answer to a question as a span of a context of any length."""

from tfllm.data.squad_reader import read_squad
from tfllm.evaluation.classification_report import write_predictions
from tfllm.evaluation.squad_metrics import squad_scores
from tfllm.models.span_extractor import SpanExtractor
from tfllm.tasks.task import BertTask, kept_examples


class QuestionAnsweringTask(BertTask):
    """A `SpanExtractor` fine-tuned on SQuAD-format files; served as `SpanExtractorServer`.

    Predictions are rows of `question`, `answer`, `score` and the answer's character `start` and `end`
    in the context; evaluation gives SQuAD's exact match and F1.
    """

    model_class = SpanExtractor
    report_keys = ("exact_match", "f1", "examples")
    served_monitors = {"f1": "f1", "exact_match": "exact_match"}

    def read(self, config, path, labeled=True):
        return kept_examples(path, read_squad(path, config.data.on_bad_rows, labeled=labeled), config.data.limit)

    def build(self, config, train_examples):
        model = config.model
        return SpanExtractor(self.bert(config, train_examples), max_question_length=model.max_question_length,
                             stride=model.doc_stride, max_answer_length=model.max_answer_length,
                             dropout=config.training.dropout)

    def texts(self, examples):
        return [text for example in examples for text in (example.question, example.context)]

    def cut_inputs(self, config, examples):
        return []  # contexts are read whole, in windows

    def dataset(self, config, model, examples, training):
        return model.make_dataset(examples, batch_size=config.training.batch_size, training=training,
                                  fixed_length=config.training.fixed_length, seed=config.training.seed)

    def score(self, config, model, examples, rows, directory):
        report = squad_scores([row["answer"] for row in rows], [[a.text for a in e.answers] for e in examples])
        write_predictions(({"id": example.id, **row, "gold": [a.text for a in example.answers]}
                           for example, row in zip(examples, rows)), directory)
        return report

    def summary(self, report):
        return (f"{report['data']}: exact match {report['exact_match']:.2f}, F1 {report['f1']:.2f} over "
                f"{report['examples']} questions")

    def metadata(self, config, model, server):
        return {"sequence_length": model.preprocessor.sequence_length, "doc_stride": model.stride,
                "max_question_length": model.max_question_length, "max_answer_length": model.max_answer_length}
