"""Text generated at the end of each epoch, in TensorBoard's Text tab and in the training log."""

import keras
import tensorflow as tf

from tfllm import storage


class GenerationSamples(keras.callbacks.Callback):
    """Generates from fixed prompts after each epoch and logs them under `log_dir` as text summaries.

    Seeing what the model writes tells more about a language model's progress than its loss does.

    Args:
        generate: a function from a list of prompts to a list of texts (e.g. `CausalLM.generate_text`
            with its sampling settings bound, or `CausalLM.reply` for chats).
        prompts: the prompts (for chats, user messages).
        log_dir: the TensorBoard run dir (`<run_dir>/tensorboard`); samples go to its `samples/`.

    Example (not run by the test command: it needs a trained model):
    >>> samples = GenerationSamples(lambda p: lm.generate_text(p, 32), ["ROMEO:"], "runs/lm/tensorboard")  # doctest: +SKIP
    """

    def __init__(self, generate, prompts, log_dir):
        super().__init__()
        self.generate, self.prompts = generate, list(prompts)
        self.writer = tf.summary.create_file_writer(storage.join(log_dir, "samples"))

    def on_epoch_end(self, epoch, logs=None):
        texts = self.generate(self.prompts)
        # Markdown: a table keeps each prompt beside its sample.
        rows = ["| prompt | sample |", "| --- | --- |"] + [
            f"| {_markdown_cell(prompt)} | {_markdown_cell(text)} |" for prompt, text in zip(self.prompts, texts)]
        with self.writer.as_default():
            tf.summary.text("samples", "\n".join(rows), step=epoch + 1)
        self.writer.flush()
        for prompt, text in zip(self.prompts, texts):
            print(f"  sample after epoch {epoch + 1}: {prompt!r} -> {text!r}")


def _markdown_cell(text):
    return text.replace("|", "\\|").replace("\n", "<br>")
