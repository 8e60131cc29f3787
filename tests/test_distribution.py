import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tfllm.training.strategy import local_tf_configs, resolve_strategy

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")


def start_workers(preset_dir, run_dir, outputs, *flags):
    """Two workers on 127.0.0.1 (MultiWorkerMirroredStrategy) sharing `run_dir`; returns their Popens."""
    processes = []
    for tf_config, output in zip(local_tf_configs(2), outputs):
        env = {**os.environ, "TF_CONFIG": tf_config,
               "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])}
        processes.append(subprocess.Popen([sys.executable, WORKER, preset_dir, str(run_dir), str(output), *flags],
                                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return processes


def run_workers(preset_dir, directory, *flags):
    """Runs two workers to the end; returns [(exit code, log)] and their outputs' paths."""
    outputs = [directory / f"worker{index}.npz" for index in range(2)]
    processes = start_workers(preset_dir, directory / "run", outputs, *flags)
    logs = [process.communicate(timeout=600)[0] for process in processes]
    return [(process.returncode, log) for process, log in zip(processes, logs)], outputs


@pytest.fixture(scope="module")
def two_worker_weights(keras_hub_preset_dir, tmp_path_factory):
    results, outputs = run_workers(keras_hub_preset_dir, tmp_path_factory.mktemp("two_workers"))
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:]
    return [np.load(path) for path in outputs]


def test_two_workers_end_with_identical_weights_close_to_one_process(keras_hub_preset_dir, two_worker_weights,
                                                                      tmp_path):
    single = tmp_path / "single.npz"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])}
    env.pop("TF_CONFIG", None)
    subprocess.run([sys.executable, WORKER, keras_hub_preset_dir, str(tmp_path / "run"), str(single)], env=env,
                   check=True, capture_output=True)
    (first, second), alone = two_worker_weights, np.load(single)
    assert first["loss"][-1] < first["loss"][0]
    for name in first.files:
        np.testing.assert_array_equal(first[name], second[name])  # all-reduced gradients: one model
    # The same global batches, split in two and all-reduced: the single-process run up to float rounding.
    weights = [name for name in first.files if name != "loss"]
    for name in weights:
        np.testing.assert_allclose(first[name], alone[name], atol=1e-5)  # measured: 4e-7


def test_killed_workers_resume_from_the_chiefs_backup_to_the_uninterrupted_weights(keras_hub_preset_dir,
                                                                                   two_worker_weights, tmp_path):
    outputs = [tmp_path / f"unused{index}.npz" for index in range(2)]
    killed = start_workers(keras_hub_preset_dir, tmp_path / "run", outputs, "--pause-at", "1", "2")
    for process in killed:  # each worker's log, until it pauses after batch 3 of epoch 2
        log = []
        for line in process.stdout:
            log.append(line)
            if line.strip() == "paused":
                break
        assert log and log[-1].strip() == "paused", "".join(log)
    for process in killed:
        process.send_signal(signal.SIGKILL)
        process.wait()
    state = json.load(open(tmp_path / "run" / "backup" / "state.json"))  # the chief's; the last, after batch 2
    assert (state["epoch"], state["batch"]) == (1, 2)

    results, outputs = run_workers(keras_hub_preset_dir, tmp_path)
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:]
    resumed = [np.load(path) for path in outputs]
    # The whole run's history, on every worker: epoch 1 from the killed run (the chief's backup), then
    # the rest of epoch 2.
    assert [len(r["loss"]) for r in resumed] == [2, 2] and resumed[0]["loss"][0] == two_worker_weights[0]["loss"][0]
    # Both workers restored the same backup and then ran the uninterrupted run's steps again.
    for weights, uninterrupted in zip(resumed, two_worker_weights):
        for name in uninterrupted.files:
            if name != "loss":
                np.testing.assert_array_equal(weights[name], uninterrupted[name])


def test_keras_still_needs_the_distribution_fix(keras_hub_preset_dir, tmp_path):
    """Fails once Keras trains on two workers unmended: then delete tfllm/training/keras_distribution_fix.py."""
    results, _ = run_workers(keras_hub_preset_dir, tmp_path, "--no-fix")
    assert all(code != 0 for code, _ in results), "upstream Keras no longer needs keras_distribution_fix: remove it"
    assert any("PerReplica" in log or "Invalid reduction dimension" in log for _, log in results)


def test_strategy_names_resolve_and_bad_ones_say_what_is_known():
    assert resolve_strategy("auto").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="strategy must be one of auto, cpu, gpu"):
        resolve_strategy("horovod")
    with pytest.raises(ValueError, match="needs training.tpu"):
        resolve_strategy("tpu")


@pytest.mark.parametrize("tf_config, message", [
    ('{"cluster": {"worker": ["a:1"]', r"TF_CONFIG is not valid JSON \(Expecting"),  # a shell quoting slip
    ('["a:1", "b:2"]', r'TF_CONFIG: expected \{"cluster"'),
])
def test_a_malformed_tf_config_is_named(monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    for name in ("auto", "multi_worker"):  # a bare json error (auto) or AttributeError (a list) named nothing
        with pytest.raises(ValueError, match=message):
            resolve_strategy(name)
