"""tfllm: pretrain and fine-tune BERT and GPT-2 from raw text with Keras, and export SavedModels for TF Serving."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tfllm.backbones import bert_from_scratch, gpt2_from_scratch, load_backbone, load_gpt2  # noqa: E402
from tfllm.config import load_config  # noqa: E402
from tfllm.data.corpus_readers import read_pairs  # noqa: E402
from tfllm.data.entity_readers import read_entity_examples  # noqa: E402
from tfllm.data.readers import ColumnSpec, read_text_examples  # noqa: E402
from tfllm.data.relation_reader import read_relation_examples  # noqa: E402
from tfllm.data.squad_reader import read_squad  # noqa: E402
from tfllm.evaluation.generation_metrics import generation_scores  # noqa: E402
from tfllm.export.saved_model_export import export_for_serving  # noqa: E402
from tfllm.tasks.causal_lm import CausalLM  # noqa: E402
from tfllm.tasks.causal_lm_serving import CausalLMServer  # noqa: E402
from tfllm.tasks.masked_lm import MaskedLM  # noqa: E402
from tfllm.tasks.prompt_format import PromptFormat  # noqa: E402
from tfllm.tasks.span_extractor import SpanExtractor, build_span_extractor  # noqa: E402
from tfllm.tasks.span_extractor_serving import SpanExtractorServer  # noqa: E402
from tfllm.tasks.text_classifier import TextClassifier, build_text_classifier  # noqa: E402
from tfllm.tasks.text_classifier_serving import TextClassifierServer  # noqa: E402
from tfllm.tasks.token_classifier import TokenClassifier, build_token_classifier  # noqa: E402
from tfllm.tasks.token_classifier_serving import TokenClassifierServer  # noqa: E402
from tfllm.text.byte_pair_training import train_byte_pair_vocabulary  # noqa: E402
from tfllm.text.masked_lm_masker import MaskedLMMasker  # noqa: E402
from tfllm.text.wordpiece_training import train_wordpiece_vocabulary  # noqa: E402
from tfllm.training.optimizer import adamw_with_warmup  # noqa: E402
from tfllm.training.resumable_fit import resumable_fit  # noqa: E402

__version__ = "0.1.0"
