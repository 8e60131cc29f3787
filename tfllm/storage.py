"""Files under any `tf.io.gfile` path: local, or with a scheme such as gs:// (Cloud TPU, multi-worker jobs).

Every file a job writes or reads back goes through here or through TensorFlow and Keras (which take
such paths too), so a `run_dir` or export root in a bucket needs nothing more. Libraries that only
write local files (h5py, matplotlib, KerasHub presets) write into `local_directory`, which uploads.

Example (a local directory here; "gs://my-bucket/runs/sst2" works the same with credentials):
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as run_dir:
...     write_json(join(run_dir, "history.json"), {"loss": [0.5]})
...     read_json(join(run_dir, "history.json"))
{'loss': [0.5]}
"""

import contextlib
import json
import os
import posixpath
import shutil
import tempfile

import tensorflow as tf

_STAGING = ".partial-"  # staging directories: .partial-<name>-<pid>-<random>, hidden from TF Serving

def is_remote(path):
    """Whether `path` names a file system other than this machine's (it has a scheme, as gs://)."""
    return "://" in str(path)


def on_gfile(path):
    """Whether `tf.io.gfile` reads `path`: local paths and registered schemes (gs://, file://); not the
    handles that only KerasHub resolves (kaggle://, hf://)."""
    return not is_remote(path) or str(path).split("://")[0] in tf.io.gfile.get_registered_schemes()


def join(directory, *names):
    """`os.path.join`, with forward slashes under a scheme (gs:// paths take them on every OS)."""
    return posixpath.join(directory, *names) if is_remote(directory) else os.path.join(directory, *names)


def exists(path):
    return tf.io.gfile.exists(path)


def isdir(path):
    return tf.io.gfile.isdir(path)


def read_text(path):
    with tf.io.gfile.GFile(path, "r") as file:
        return file.read()


def read_json(path):
    return json.loads(read_text(path))


def write_text(path, text):
    """Writes `text` to `path`, whole or not at all: into `<path>.partial`, then renamed over `path`.

    The rename is atomic locally and, for one object, on GCS. Creates the parent directory.
    """
    tf.io.gfile.makedirs(posixpath.dirname(path) if is_remote(path) else os.path.dirname(path) or ".")
    partial = path + ".partial"
    with tf.io.gfile.GFile(partial, "w") as file:
        file.write(text)
    tf.io.gfile.rename(partial, path, overwrite=True)


def write_json(path, value, indent=None):
    write_text(path, json.dumps(value, indent=indent, ensure_ascii=False))


def copy_tree(source, destination, last=None):
    """Copies the directory `source` into `destination` (either may be remote), file by file.

    `last`: the name of a top-level file copied after all the others (`saved_model.pb`: a loader that
    finds it finds everything else).
    """
    files = []
    for directory, _, names in tf.io.gfile.walk(source):
        relative = os.path.relpath(directory, source) if not is_remote(source) else \
            directory[len(source.rstrip("/")):].strip("/")
        files += [posixpath.join(relative, name) if relative not in ("", ".") else name for name in names]
    files.sort(key=lambda name: name == last)
    for name in files:
        target = join(destination, *name.split("/"))
        tf.io.gfile.makedirs(posixpath.dirname(target) if is_remote(target) else os.path.dirname(target))
        tf.io.gfile.copy(join(source, *name.split("/")), target, overwrite=True)


@contextlib.contextmanager
def local_directory(directory):
    """Yields a local directory whose files end up in `directory`: itself when local (created), else a
    temporary one copied to `directory` when the block ends without an error."""
    if not is_remote(directory):
        os.makedirs(directory, exist_ok=True)
        yield directory
        return
    scratch = tempfile.mkdtemp(prefix="tfllm-upload-")
    try:
        yield scratch
        copy_tree(scratch, directory)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def local_copy(directory):
    """Yields a local directory holding what `directory` holds: a temporary copy of a remote directory;
    anything else (a local path, a kaggle:// handle) unchanged."""
    if not (is_remote(directory) and on_gfile(directory) and tf.io.gfile.isdir(directory)):
        yield directory
        return
    scratch = tempfile.mkdtemp(prefix="tfllm-download-")
    try:
        copy_tree(directory, scratch)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _staging_directory(parent, name):
    """A new staging directory in `parent`, named for this process (see `remove_stale_staging`)."""
    remove_stale_staging(parent)
    return tempfile.mkdtemp(prefix=f"{_STAGING}{name}-{os.getpid()}-", dir=parent)


def remove_stale_staging(parent):
    """Removes the staging directories in `parent` of processes that are gone (a killed export's)."""
    for entry in os.listdir(parent) if os.path.isdir(parent) else ():
        owner = entry.rsplit("-", 2)[-2] if entry.startswith(_STAGING) and entry.count("-") >= 3 else ""
        if owner.isdigit() and not _process_alive(int(owner)):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def _make_readable(directory):
    """Directories 0755, files 0644: TF Serving often runs as another user (mkdtemp makes 0700)."""
    os.chmod(directory, 0o755)
    for root, directories, files in os.walk(directory):
        for name in directories:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


@contextlib.contextmanager
def published_directory(directory, last="saved_model.pb", replace=False):
    """Yields a staging directory that becomes `directory` only if the block ends without an error.

    With `replace`, an existing `directory` is removed once the new one is staged; else it must not exist.
    What is published is readable by every user (directories 0755, files 0644), as a TF Serving process
    of another user needs.

    Locally the staging directory is a hidden sibling (TF Serving only loads numeric version names) and
    one rename publishes it. Object stores such as GCS have no atomic directory rename, so a remote
    `directory` is staged in the temporary directory and uploaded with `last` after every other file: a
    SavedModel loader (TF Serving retries a failed load) never finds `saved_model.pb` beside missing
    variables. An upload that fails is removed. A killed export's staging directory is removed by the
    next export.
    """
    remote = is_remote(directory)
    parent = tempfile.gettempdir() if remote else os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    staging = _staging_directory(parent, posixpath.basename(directory.rstrip("/")))
    try:
        yield staging
        _make_readable(staging)
        if replace and tf.io.gfile.exists(directory):
            tf.io.gfile.rmtree(directory) if remote else shutil.rmtree(directory)
        if not remote:
            os.rename(staging, directory)
            return
        try:
            copy_tree(staging, directory, last=last)
        except BaseException:
            if tf.io.gfile.exists(directory):
                tf.io.gfile.rmtree(directory)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
