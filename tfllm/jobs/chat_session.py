"""`tfllm chat`: an interactive conversation in the terminal, keeping the history between turns."""

import sys

_HELP = "Type a message and press Enter. /reset starts a new conversation, /exit (or Ctrl-D) quits."


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
