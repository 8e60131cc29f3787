"""How a source text (a dialogue to summarize, a sentence to translate) becomes a GPT-2 prompt and target.

Conditional generation trains a causal LM on `<|endoftext|>` + source_prefix + source + target_prefix,
then " " + target + `<|endoftext|>`, with the loss on the target tokens only; the model learns to end
its answers, and decoding stops there:

    <|endoftext|>Hi.\\nChinese: 嗨。<|endoftext|>

The prefixes, the source and the target are tokenized apart, in training and in the serving graph
alike, so the prompt's tokens are the same in both. A source too long for the context keeps its
start: the start of a document or dialogue carries most of what a summary needs.
"""

import dataclasses

import tensorflow as tf

# Between the target prefix and the target, so a target's first word is tokenized as inside a sentence.
TARGET_SEPARATOR = " "


@dataclasses.dataclass(frozen=True)
class PromptFormat:
    """The text around a source that asks for its target.

    Args:
        source_prefix: text before the source, e.g. "Summarize:\\n" (may be empty).
        target_prefix: text after the source that the target follows, e.g. "\\nSummary:".

    Example (not run by the test command: it downloads GPT-2 and trains):
    >>> prompt_format = PromptFormat("", "\\nChinese:")
    >>> lm = CausalLM(*load_gpt2("gpt2_base_en"), prompt_format=prompt_format)  # doctest: +SKIP
    >>> lm.fit(lm.make_conditional_dataset([("Hi.", "嗨。")], training=True))  # doctest: +SKIP
    >>> lm.generate_text(["Hi."])  # doctest: +SKIP
    ['嗨。']
    """

    source_prefix: str = ""
    target_prefix: str = "\nTarget:"

    @staticmethod
    def target_text(generated):
        """The target as a person reads it: generated text (a string tensor) without the separator."""
        return tf.strings.regex_replace(generated, "^" + TARGET_SEPARATOR, "")

    def prompt_ids(self, tokenizer, sources, room):
        """Prompt ids (ragged [batch, None]) for `sources` (string [batch]), at most `room` long.

        The source is cut from its end to leave room for both prefixes.
        """
        source_ids = tokenizer(sources)
        prefixes = tokenizer(tf.constant([self.source_prefix, self.target_prefix]))
        prefix, suffix = prefixes[0], prefixes[1]
        source_room = tf.maximum(room - tf.size(prefix) - tf.size(suffix), 0)
        rows = source_ids.nrows()

        def repeated(ids):
            return tf.RaggedTensor.from_tensor(tf.tile(ids[tf.newaxis, :], tf.stack([rows, 1])))

        ids = tf.concat([repeated(prefix), source_ids[:, :source_room], repeated(suffix)], axis=1)
        return ids[:, -room:]

    def training_examples(self, tokenizer, pairs, end_token_id, window):
        """(ids, weights) examples, each at most `window` tokens, that train the targets of (source, target) pairs.

        When a pair does not fit, the longer part is cut first: the target keeps at least half of the
        room left by the prefixes (and its start), the source the rest (and its start).
        """
        texts = [text for source, target in pairs for text in (source, TARGET_SEPARATOR + target)]
        ids = tokenizer.token_ids(texts)
        prefix, suffix = tokenizer.token_ids([self.source_prefix, self.target_prefix])
        room = window - 1 - len(prefix) - len(suffix)
        if room < 2:
            raise ValueError(f"a window of {window} tokens leaves no room for a source and a target beside the "
                             f"prompt format's {len(prefix) + len(suffix)} tokens; raise sequence_length")
        examples = []
        for source, target in zip(ids[0::2], ids[1::2]):
            target = target + [end_token_id]
            if len(source) + len(target) > room:
                target = target[: max(room - len(source), room // 2)]
                source = source[: room - len(target)]
            prompt = [end_token_id] + prefix + source + suffix
            examples.append((prompt + target, [0.0] * len(prompt) + [1.0] * len(target)))
        return examples
