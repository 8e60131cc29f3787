"""The task contract: what one task declares so that `tfllm.runner` trains, evaluates, predicts with and
exports it the same way as every other task.

A task module (one per task in this package) defines a `Task` subclass; its config sections (`data`,
`model`) and its `TaskSpec` are declared in its module of `tfllm.configs`, free of TensorFlow. The
parts of a `Task`, in this order:

- data: `read` (one file's examples; readers report bad rows by file and line) and, when it differs
  from "data.train and data.validation", `splits` and `evaluation_split`;
- model: `build` (the Keras model a config starts from, its head on a backbone; its `compile()`
  defaults to the task's loss and metrics), `dataset` (the model's tf.data pipeline for examples),
  `model_class` (whose `load(directory)` restores what `save_to_dir` wrote) and `callbacks`;
  BERT tasks (`BertTask`) build on `bert(config, train_examples)` and name the `texts` it reads (and the
  `cut_inputs` read only up to `backbone.sequence_length`, which training counts aloud); those
  with a `distillation:` section build a `student` of the `teacher` run's model instead;
- serving: `server` (raw strings in, readable answers out, in TF ops: what `tfllm export` publishes;
  its `requests` and `answers` turn examples into its inputs and its outputs into JSON-ready rows) and
  `export_server` (what `tfllm export` publishes: `server`, plus what only an export holds);
- evaluation: `score` (a report of the served answers against the examples' gold ones), `summary`
  (its one printed line) and `metadata` (facts an export keeps, with the report's `report_keys`).

`tfllm evaluate`, `tfllm predict` and the export's check all go through `server`, so a report scores
the graph TF Serving runs. Language-model tasks, whose quality is a loss, override `evaluate`.
"""

import numpy as np

from tfllm import storage
from tfllm.backbones.sources import load_bert
from tfllm.data.corpus_readers import read_documents
from tfllm.data.examples import bad_row_count
from tfllm.models.quantization import quantize_backbone
from tfllm.models.student import kept_layers, student_of
from tfllm.training.run_files import model_dir


def kept_examples(path, result, limit=None):
    """The examples a reader's `result` kept, the first `limit` of them; says how many bad rows it skipped."""
    if result.bad_rows:
        print(f"{path}: skipped {bad_row_count(result.bad_rows)} bad row(s) (listed in the log above); "
              f"read {len(result.examples)}")
    return result.examples[:limit] if limit else result.examples


def data_file(path, where=""):
    """`path` when it names a file; a ValueError starting with `where` (a config key) when there is none
    or it is a directory."""
    if not storage.exists(path):
        raise ValueError(f"{where}no such file: {path}")
    if storage.isdir(path):
        raise ValueError(f"{where}{path} is a directory; name a data file")
    return path


def existing(config, split):
    """The file `data.<split>` names; a ValueError naming that key when there is none."""
    return data_file(getattr(config.data, split), f"{config.path}: data.{split}: ")


class Task:
    """The base of every task; see the module doc for the parts a task defines."""

    model_class = None
    report_keys = ()  # keys of the validation report that an export's metadata keeps
    # `training.monitor` names scored through the server after each epoch (not Keras metrics), by report key.
    served_monitors = {}

    # Data.

    def read(self, config, path, labeled=True):
        """The examples of one data file, under the config's format, bad-row policy and `data.limit`."""
        raise NotImplementedError

    def splits(self, config):
        """(train examples, validation examples or None)."""
        if not config.data.train:
            raise ValueError(f"{config.path}: data.train is not set")
        train = self.read(config, existing(config, "train"))  # train's problems are named first
        return train, self.read(config, existing(config, "validation")) if config.data.validation else None

    def evaluation_split(self, config, split, path=None):
        """(what the report names as its data, examples) of `path` or the file `data.<split>` names."""
        if path:
            return path, self.read(config, data_file(path))
        if not getattr(config.data, split):
            raise ValueError(f"{config.path}: data.{split} is not set; nothing to evaluate")
        return getattr(config.data, split), self.read(config, existing(config, split))

    # Model.

    def build(self, config, train_examples):
        """The model a config starts from, built in the training strategy's scope."""
        raise NotImplementedError

    def dataset(self, config, model, examples, training):
        """`model`'s tf.data pipeline of `examples` (shuffled and bucketed by length for training)."""
        raise NotImplementedError

    def callbacks(self, config, model):
        """Keras callbacks of this task's training, besides the runner's own."""
        return []

    def teacher(self, config):
        """The trained model of the `distillation.teacher` run, or None when the config distils nothing."""
        run_dir = config.distillation.teacher if config.distillation is not None else None
        if not run_dir:
            return None
        directory = storage.join(run_dir, "model")
        if not storage.exists(storage.join(directory, "tfllm.json")):
            raise ValueError(f"{config.path}: distillation.teacher: no trained model in {directory} (train the "
                             "teacher first: tfllm train with its config)")
        try:
            return self.model_class.load(directory)
        except ValueError as error:
            raise ValueError(f"{config.path}: distillation.teacher: {error}") from None

    def student(self, config, teacher):
        """The model a distillation run trains: smaller than `teacher`, with its head and preprocessor."""
        raise ValueError(f"{config.path}: task {config.task} has no students")

    def compile_options(self, config):
        """Keywords of the model's `compile` that the config sets, besides the optimizer."""
        return {}

    def load(self, config, quantize=None):
        """The trained model of the config's run; `quantize` ("int8") only where the task offers it."""
        if quantize:
            raise ValueError(f"{config.path}: --quantize int8 is for BERT and GPT-2 tasks, not {config.task}")
        return self.model_class.load(model_dir(config))

    # Serving.

    def server(self, config, model):
        """The `TaskServer` of `model`: what `predict` and `evaluate` answer through."""
        return model.server()

    def export_server(self, config, model):
        """The `TaskServer` that `tfllm export` saves: `server`, with what only an export holds (a search index)."""
        return self.server(config, model)

    # Evaluation.

    def evaluate(self, config, model, examples, directory, server=None):
        """The report on `examples`: their served answers (through `server`, default `self.server`) scored
        against their gold ones; predictions go to `directory` unless it is None (a score during training)."""
        rows = (server or self.server(config, model)).answer(examples, model.predict_batch_size,
                                                             progress=directory is not None)
        return self.score(config, model, examples, rows, directory)

    def score(self, config, model, examples, rows, directory):
        """The report (a dict) of the answer `rows` against `examples`; writes predictions to `directory`
        when it is not None."""
        raise NotImplementedError

    def summary(self, report):
        """The lines printed after evaluation."""
        raise NotImplementedError

    def metadata(self, config, model, server):
        """JSON facts of the export (the runner adds task, backbone and the validation report's `report_keys`)."""
        return {}

    def trained_message(self, config):
        """What to tell the user after training, besides where the model was saved (or None)."""
        return None


class BertTask(Task):
    """A task that fine-tunes a BERT backbone (`backbone.source`) with a head."""

    def bert(self, config, train_examples):
        """The config's `Bert`; with `backbone.add_characters`, the characters of the training texts that its
        vocabulary lacks get tokens of their own (the vocabulary is kept in `<run_dir>/tokenizer`)."""
        settings = config.backbone
        bert = load_bert(settings.source, sequence_length=settings.sequence_length, preprocess=settings.preprocess,
                         native=settings.native, dropout=config.training.dropout)
        positions = getattr(bert.backbone, "max_sequence_length", None)  # sources not on disk: known only now
        if positions and settings.sequence_length > positions:
            raise ValueError(f"{config.path}: backbone.sequence_length: {settings.sequence_length} is more than the "
                             f"{positions} positions of backbone.source {settings.source}")
        if settings.add_characters:
            texts = self.texts(train_examples)
            added = bert.add_characters(texts, storage.join(config.run_dir, "tokenizer"), config.training.seed)
            print(f"backbone.add_characters: {len(added)} character(s) of data.train had no token in the "
                  f"vocabulary and now have their own ({''.join(added[:20])}{'...' if len(added) > 20 else ''})")
        self.say_what_is_cut(config, bert.preprocessor, train_examples)
        return bert

    def say_what_is_cut(self, config, preprocessor, examples):
        """Says how many of the training inputs are longer than `backbone.sequence_length`: the model reads
        their first tokens only, which a user should know before training, not find out from the scores."""
        inputs = self.cut_inputs(config, examples)
        if not inputs:
            return
        texts, pairs = [text for text, _ in inputs], [pair or "" for _, pair in inputs]
        lengths = preprocessor.uncut_lengths(texts, pairs if any(pair for _, pair in inputs) else None)
        cut = int(np.sum(lengths > preprocessor.sequence_length))
        if cut:
            share = f"{cut / len(lengths):.1%}" if cut / len(lengths) >= 0.001 else "under 0.1%"
            print(f"data.train: {cut} of {len(lengths)} texts ({share}) are longer than "
                  f"backbone.sequence_length {preprocessor.sequence_length} (the longest: {int(lengths.max())} tokens) "
                  f"and are cut to it{self.cut_advice(config)}")

    def cut_inputs(self, config, examples):
        """(text, its pair or None) of each input the model reads the first `backbone.sequence_length` tokens
        of; none for a task that reads long texts whole, in windows."""
        return [(text, None) for text in self.texts(examples)]

    def cut_advice(self, config):
        """What a user can do about inputs cut to `backbone.sequence_length`, after a semicolon."""
        return "; raise backbone.sequence_length to read more of them"

    def student(self, config, teacher):
        settings = config.distillation
        try:
            student = student_of(teacher, settings.student_layers, settings.student_init, settings.student_hidden_dim,
                                 settings.student_intermediate_dim)
        except ValueError as error:
            raise ValueError(f"{config.path}: distillation: {error}") from None
        depth = len(teacher.backbone.transformer_layers)
        start = ("fresh weights" if settings.student_init == "scratch" else "the teacher's layers " +
                 ", ".join(str(i + 1) for i in kept_layers(depth, settings.student_layers)))
        width, teacher_width = (model.backbone.get_config()["intermediate_dim"] for model in (student, teacher))
        if settings.student_init == "teacher" and width < teacher_width:
            start += f", keeping {width} of their {teacher_width} feed-forward units"
        print(f"distillation: a {settings.student_layers}-layer student of the {depth}-layer teacher in "
              f"{settings.teacher}, starting from {start}")
        return student

    def load(self, config, quantize=None):
        """The trained model of the config's run, with int8 backbone weights when `quantize` is "int8"."""
        model = self.model_class.load(model_dir(config))
        if not quantize:
            return model
        try:
            return quantize_backbone(model, quantize)
        except ValueError as error:
            raise ValueError(f"{config.path}: --quantize {quantize}: {error}") from None

    def texts(self, examples):
        """The raw texts of `examples` that the model tokenizes."""
        raise NotImplementedError


class DocumentsTask(Task):
    """A task on plain-text documents (CSV/TSV/JSONL rows or .txt), whose validation split may be a
    `data.validation_split` share of train: the last share, since neighbours in a corpus would leak
    into training."""

    def read(self, config, path, labeled=True):
        data = config.data
        result = read_documents(path, data.format, data.text_column, data.document_separator, data.on_bad_rows,
                                data.column_names)
        return kept_examples(path, result, data.limit)

    def held_out(self, config, examples):
        """(train, validation) of `examples` when `data.validation_split` holds a share out."""
        share = config.data.validation_split
        cut = len(examples) - max(1, int(len(examples) * share))
        if cut < 1:
            unsplit = len(examples) == 1 and getattr(config.data, "document_separator", "") is None
            hint = ' (a .txt file is one document unless data.document_separator, e.g. "\\n\\n", splits it)'
            raise ValueError(f"{config.path}: data.validation_split: a {share:.0%} share of the {len(examples)} "
                             f"example(s) of data.train leaves none to train on: give data.validation, or more "
                             f"examples{hint if unsplit else ''}")
        return examples[:cut], examples[cut:]

    def splits(self, config):
        if config.data.validation or not config.data.validation_split:
            return super().splits(config)
        if not config.data.train:
            raise ValueError(f"{config.path}: data.train is not set")
        return self.held_out(config, self.read(config, existing(config, "train")))

    def evaluation_split(self, config, split, path=None):
        if not path and not getattr(config.data, split) and split == "validation" and config.data.validation_split:
            return f"{config.data.train} (a {config.data.validation_split:.0%} share)", self.splits(config)[1]
        return super().evaluation_split(config, split, path)
