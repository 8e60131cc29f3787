"""Where backbones come from: TF-Hub encoders, KerasHub presets, Hugging Face checkpoints, fresh configs."""

from tfllm.backbones.bert_from_scratch import BERT_SIZES, bert_from_scratch
from tfllm.backbones.gpt2_sources import GPT2_SIZES, gpt2_from_scratch, load_gpt2
from tfllm.backbones.hf_bert_checkpoint import load_hf_bert_checkpoint
from tfllm.backbones.sources import DEFAULT_BACKBONE, Bert, embedded_default_path, load_bert
from tfllm.backbones.tf_hub_conversion import NotConvertibleError, convert_tf_hub_encoder
from tfllm.backbones.tf_hub_encoder import TFHubEncoder
from tfllm.backbones.tf_hub_export import export_tf_hub_bert
from tfllm.backbones.tf_hub_handles import TF_HUB_BERT_HANDLES, load_tf_hub_saved_model
