"""Conditional generation: GPT-2 from a source text to a target text (summaries, translations), the loss
on the targets; evaluation also generates every target and scores it with ROUGE and BLEU."""

import random

from tfllm.backbones.sources import DEFAULT_BACKBONE, load_bert
from tfllm.data.corpus_readers import read_pairs
from tfllm.evaluation.classification_report import write_predictions
from tfllm.evaluation.generation_metrics import generation_scores
from tfllm.models.prompt_format import PromptFormat
from tfllm.tasks.causal_lm import CausalLanguageModelingTask, generation_settings, sampler
from tfllm.tasks.task import kept_examples
from tfllm.terminal import progress_bar


class ConditionalGenerationTask(CausalLanguageModelingTask):
    """(source, target) pairs from CSV/TSV/JSONL; prompts are model.source_prefix + source + model.target_prefix.

    A `data.validation_split` share is a seeded random one (files of pairs are often sorted, e.g. by length).
    """

    generation_batch_size = 32

    def read(self, config, path, labeled=True):
        data = config.data
        result = read_pairs(path, data.format, data.source_column, data.target_column, data.column_names,
                            data.on_bad_rows)
        return kept_examples(path, result, data.limit)

    def held_out(self, config, examples):
        examples = list(examples)
        random.Random(config.training.seed).shuffle(examples)
        return super().held_out(config, examples)

    def prompt_format(self, config):
        return PromptFormat(config.model.source_prefix, config.model.target_prefix)

    def make_dataset(self, model):
        return model.make_conditional_dataset

    def evaluate(self, config, model, pairs, directory, server=None):
        """Perplexity on the targets, and ROUGE, BLEU and BERTScore-style F1 (all-MiniLM-L6-v2's token vectors)
        of a target generated for every source (beam search when `generation.num_beams` > 1, else greedy);
        each source, reference and prediction goes to predictions.jsonl."""
        report = super().evaluate(config, model, pairs, directory)
        settings = dict(generation_settings(config), temperature=0.0)
        generate = sampler(config, model, **settings)
        progress = progress_bar(len(pairs), "example")
        predictions = []
        for start in range(0, len(pairs), self.generation_batch_size):
            predictions.extend(generate([source for source, _ in pairs[start: start + self.generation_batch_size]]))
            progress.update(len(predictions))
        write_predictions(({"source": source, "reference": reference, "prediction": prediction}
                           for (source, reference), prediction in zip(pairs, predictions)), directory)
        report.update(generation_scores(predictions, [reference for _, reference in pairs], _bertscore_bert()),
                      generated=len(predictions), decoding="beam search" if settings["num_beams"] > 1 else "greedy",
                      max_new_tokens=settings["max_new_tokens"])
        return report

    def summary(self, report):
        return (super().summary(report) + f"\n{report['generated']} generated: "
                f"ROUGE-1 {report['rouge1']:.2%}, ROUGE-2 {report['rouge2']:.2%}, ROUGE-L {report['rougeL']:.2%}, "
                f"BLEU {report['bleu']:.2%}" +
                (f", BERTScore F1 {report['bertscore_f1']:.4f}" if "bertscore_f1" in report else ""))


def _bertscore_bert():
    """The embedded all-MiniLM-L6-v2 for BERTScore-style scores, or None (with a note) when it is not installed."""
    try:
        return load_bert(DEFAULT_BACKBONE)
    except ImportError as error:
        print(f"note: no BERTScore in this report: {error}")
        return None
