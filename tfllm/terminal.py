"""What a command shows in the user's terminal: no TensorFlow C++ start-up noise, and progress that suits
where the output goes.

TensorFlow's C++ runtime logs through absl before absl's logging is initialised, so those lines (CUDA
driver probes, oneDNN and cpu_feature_guard notices) go to stderr whatever `TF_CPP_MIN_LOG_LEVEL` says.
`quiet_native_logs` filters them out of file descriptor 2 itself, and passes everything else on (Python
warnings, tracebacks, tfllm's own messages).
"""

import atexit
import os
import re
import sys
import threading

# absl/glog lines ("I0000 00:00:1796324521.027623   14502 port.cc:153] ...") below FATAL, absl's notice that
# logging is not initialised, and the cpu_feature_guard line's continuation.
_NOISE = re.compile(rb"^([IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+\] |WARNING: All log messages before absl::"
                    rb"InitializeLog|To enable the following instructions: .* rebuild TensorFlow)")


def quiet_native_logs():
    """Filters TensorFlow's native log lines out of this process's stderr, from now until it exits.

    Does nothing when the user set `TF_CPP_MIN_LOG_LEVEL` themselves (they chose what to see).
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        with os.fdopen(read_end, "rb", buffering=0) as lines:
            for line in iter(lines.readline, b""):
                if not _NOISE.match(line):
                    os.write(terminal, line)

    forwarder = threading.Thread(target=forward, name="tfllm-stderr", daemon=True)
    forwarder.start()

    def restore():  # at exit: the pipe's last lines reach the terminal before the process ends
        sys.stderr.flush()
        os.dup2(terminal, 2)
        forwarder.join(timeout=5)

    atexit.register(restore)


def progress_verbosity():
    """Keras `verbose`: progress bars on a terminal, one line per epoch when output goes to a file or pipe
    (a log file would otherwise fill with thousands of carriage-return updates)."""
    return 1 if sys.stdout.isatty() else 2


def progress_bar(total, unit_name):
    """A Keras progress bar of `total` units that suits where the output goes (see `progress_verbosity`:
    one line at the end into a file or pipe)."""
    import keras

    return keras.utils.Progbar(total, unit_name=unit_name, verbose=progress_verbosity())
