"""tfllm: pretrain and fine-tune BERT and GPT-2 from raw text with Keras, and export SavedModels for TF Serving.

The names below load on first use, so `import tfllm` (and the CLI's config checks) run before
TensorFlow is imported.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_EXPORTS = {
    "tfllm.backbones": ["bert_from_scratch", "gpt2_from_scratch", "load_bert", "load_gpt2"],
    "tfllm.configs.job": ["load_config"],
    "tfllm.data.corpus_readers": ["read_pairs"],
    "tfllm.data.entity_readers": ["read_entity_examples"],
    "tfllm.data.pair_readers": ["TextPair", "pairs_from_dialogues", "pairs_from_squad", "read_corpus", "read_text_pairs"],
    "tfllm.data.readers": ["ColumnSpec", "read_text_examples"],
    "tfllm.data.relation_reader": ["read_relation_examples"],
    "tfllm.data.squad_reader": ["read_squad"],
    "tfllm.evaluation.generation_metrics": ["generation_scores"],
    "tfllm.export.saved_model_export": ["export_for_serving"],
    "tfllm.models.causal_lm": ["CausalLM"],
    "tfllm.models.causal_lm_serving": ["CausalLMServer"],
    "tfllm.models.masked_lm": ["MaskedLM"],
    "tfllm.models.prompt_format": ["PromptFormat"],
    "tfllm.models.span_extractor": ["SpanExtractor", "build_span_extractor"],
    "tfllm.models.span_extractor_serving": ["SpanExtractorServer"],
    "tfllm.models.quantization": ["quantize_backbone"],
    "tfllm.models.student": ["student_of"],
    "tfllm.models.text_classifier": ["TextClassifier", "build_text_classifier"],
    "tfllm.models.text_classifier_serving": ["TextClassifierServer"],
    "tfllm.models.text_embedder": ["TextEmbedder", "build_text_embedder"],
    "tfllm.models.text_embedder_serving": ["TextEmbedderServer"],
    "tfllm.models.token_classifier": ["TokenClassifier", "build_token_classifier"],
    "tfllm.models.token_classifier_serving": ["TokenClassifierServer"],
    "tfllm.text.byte_pair_training": ["train_byte_pair_vocabulary"],
    "tfllm.text.masked_lm_masker": ["MaskedLMMasker"],
    "tfllm.text.wordpiece_training": ["train_wordpiece_vocabulary"],
    "tfllm.training.distillation": ["Distillation"],
    "tfllm.training.optimizer": ["adamw", "adamw_with_warmup"],
    "tfllm.training.resumable_fit": ["resumable_fit"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'tfllm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
