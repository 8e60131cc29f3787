"""Causal language modeling: GPT-2 on plain-text documents, fine-tuned or trained from scratch, then
generating text (`tfllm generate`) and served by an export that takes raw prompts.

The chat and conditional-generation tasks (`tfllm.tasks.chat`, `tfllm.tasks.conditional_generation`)
are this task on other data: their loss falls on the replies or targets only.
"""

import dataclasses

from tfllm import storage
from tfllm.backbones.gpt2_sources import gpt2_from_scratch, load_gpt2
from tfllm.configs.sections import SCRATCH_SOURCE
from tfllm.models.causal_lm import CausalLM
from tfllm.models.causal_lm_serving import CausalLMServer
from tfllm.models.quantization import quantize_backbone
from tfllm.tasks.task import DocumentsTask
from tfllm.terminal import progress_verbosity
from tfllm.text.byte_pair_training import train_byte_pair_vocabulary
from tfllm.training.generation_samples import GenerationSamples
from tfllm.training.run_files import model_dir, run_vocabulary


class CausalLanguageModelingTask(DocumentsTask):
    """A `CausalLM` (KerasHub GPT-2) on packed documents; its quality is perplexity and token accuracy."""

    model_class = CausalLM
    chat = False

    def build(self, config, train_examples):
        backbone = config.backbone
        if backbone.source == SCRATCH_SOURCE:
            parts = gpt2_from_scratch(backbone.size, *self._scratch_vocabulary(config, train_examples),
                                      max_sequence_length=backbone.context_length, dropout=config.training.dropout)
        else:
            parts = load_gpt2(backbone.source, dropout=config.training.dropout)
        lm = CausalLM(*parts, chat=self.chat, prompt_format=self.prompt_format(config))
        if config.training.lora_rank:
            lm.enable_lora(config.training.lora_rank, backbone.source)
        return lm

    def prompt_format(self, config):
        """The `PromptFormat` of source -> target models (conditional generation), else None."""
        return None

    @staticmethod
    def _scratch_vocabulary(config, examples):
        """A byte-level BPE vocabulary of the training texts, trained once per run dir: (vocabulary, merges)."""
        texts = ["\n".join(example) if isinstance(example, tuple) else example for example in examples]
        vocabulary_path, merges_path = run_vocabulary(
            config, texts, ["vocab.json", "merges.txt"],
            lambda corpus, output: train_byte_pair_vocabulary([corpus], output, config.backbone.vocabulary_size))
        return storage.read_json(vocabulary_path), storage.read_text(merges_path).splitlines()

    def dataset(self, config, model, examples, training):
        return self.make_dataset(model)(examples, sequence_length=config.backbone.sequence_length,
                                        batch_size=config.training.batch_size, training=training,
                                        seed=config.training.seed)

    def make_dataset(self, model):
        """The `CausalLM` method that makes this task's dataset."""
        return model.make_dataset

    def callbacks(self, config, model):
        if not config.generation.samples:
            return []
        generate = sampler(config, model)
        if self.chat:  # each sample prompt is the first message of a conversation
            generate = lambda messages, reply=generate: reply([[message] for message in messages])  # noqa: E731
        return [GenerationSamples(generate, config.generation.samples, storage.join(config.run_dir, "tensorboard"))]

    def load(self, config, quantize=None):
        """The trained model for inference: LoRA adapters merged into its weights, then quantized if asked ("int8")."""
        lm = CausalLM.load(model_dir(config)).merged()
        # The backbone holds every weight, the tied output embedding too.
        return quantize_backbone(lm, quantize) if quantize else lm

    def server(self, config, model):
        sampling = {key: value for key, value in generation_settings(config).items() if key != "num_beams"}
        return CausalLMServer(model, num_beams=self.export_beams(config), sampling=sampling)

    @staticmethod
    def export_beams(config):
        """Beams of the export's beam_search signature: generation.num_beams, or 4."""
        return config.generation.num_beams if config.generation.num_beams > 1 else 4

    def evaluate(self, config, model, examples, directory, server=None):
        """Loss, token accuracy and perplexity (on replies or targets only, for chat and conditional models)."""
        model.compile()
        data = self.dataset(config, model, examples, False)
        verbose = progress_verbosity() if directory is not None else 0  # tfllm evaluate: minutes on a corpus
        report = {k: float(v) for k, v in model.evaluate(data, verbose=verbose, return_dict=True).items()}
        report["tokens"] = int(sum(float(w.numpy().sum()) for _, _, w in data))
        return report

    def summary(self, report):
        return (f"{report['data']}: perplexity {report['perplexity']:.2f}, token accuracy {report['accuracy']:.4f} "
                f"over {report['tokens']} target tokens")

    def metadata(self, config, model, server):
        return {"context_length": model.context_length, "end_token_id": model.end_token_id,
                "signatures": sorted(server.signatures()), "num_beams": self.export_beams(config),
                "prompt_format": dataclasses.asdict(model.prompt_format) if model.prompt_format else None,
                "lora_rank": config.training.lora_rank}


def generation_settings(config):
    """The config's `generation` section as `CausalLM.generate_text` keywords."""
    g = config.generation
    return dict(max_new_tokens=g.max_new_tokens, temperature=g.temperature, top_k=g.top_k, top_p=g.top_p,
                seed=g.seed, num_beams=g.num_beams, stop=list(g.stop))


def sampler(config, lm, **overrides):
    """A function from prompts (chat: histories) to texts, with the config's generation settings."""
    settings = {**generation_settings(config), **overrides}
    if config.task == "chat":
        settings.pop("num_beams")
        return lambda histories: lm.reply(histories, **settings)
    return lambda prompts: lm.generate_text(prompts, **settings)

