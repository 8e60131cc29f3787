"""Chat: GPT-2 on multi-turn dialogues with the loss on the replies (see `tfllm.models.chat_format`);
`tfllm chat` talks with the trained model in the terminal, and its export has a `chat` signature."""

import sys

from tfllm.data.corpus_readers import read_dialogues
from tfllm.tasks.causal_lm import CausalLanguageModelingTask
from tfllm.tasks.task import kept_examples

_HELP = "Type a message and press Enter. /reset starts a new conversation, /exit (or Ctrl-D) quits."


class ChatTask(CausalLanguageModelingTask):
    """Dialogues (JSONL turns, DailyDialog, LCCC) as examples: tuples of turns, user first."""

    chat = True

    def read(self, config, path, labeled=True):
        data = config.data
        result = read_dialogues(path, data.format, data.turns_field, data.remove_spaces, data.on_bad_rows)
        return [dialogue.turns for dialogue in kept_examples(path, result, data.limit)]

    def make_dataset(self, model):
        return model.make_chat_dataset


def run_chat(reply, input_stream=sys.stdin, output_stream=sys.stdout):
    """Reads user messages, answers each with `reply([history])[0]`, and keeps the conversation.

    The whole history goes to the model each time; the serving graph drops the oldest turns when it no
    longer fits the context. Returns the number of replies given.
    """
    def write(text):
        output_stream.write(text)
        output_stream.flush()

    write(_HELP + "\n")
    history, replies = [], 0
    while True:
        write("you> ")
        line = input_stream.readline()
        if not line:  # end of input (Ctrl-D)
            write("\n")
            return replies
        message = line.strip()
        if message == "/exit":
            return replies
        if message == "/reset":
            history = []
            write("(new conversation)\n")
            continue
        if not message:
            continue
        history.append(message)
        answer = reply([history])[0]
        history.append(answer)
        replies += 1
        write(f"bot> {answer}\n")
