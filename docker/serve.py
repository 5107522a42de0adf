"""`serve` for the SageMaker container: prepare the model, run TorchServe, stop it on SIGTERM.

SageMaker runs ``docker run IMAGE serve``, extracts the model tarball to ``SM_MODEL_DIR``
(default ``/opt/ml/model``), health-checks ``GET /ping`` and sends ``POST /invocations`` to port
``SAGEMAKER_BIND_TO_PORT`` (8080); to stop, it sends SIGTERM and 30 s later SIGKILL.

The model directory holds either one ``*.mar`` built by gs-build-mar, or GraphStorm's own model
tarball contents (``model.bin`` + training YAML + transform JSON at the root, optional ``code/``),
from which the ``.mar`` is built here with gs-build-mar.

``torchserve --foreground`` does not pass SIGTERM on to the Java frontend, whose Python workers
would be orphaned; so this process starts TorchServe in its own process group, becomes the
reaper of its orphans, and on SIGTERM/SIGINT stops the whole group itself (SIGTERM, then SIGKILL
after ``GS_STOP_TIMEOUT`` seconds, default 25).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from ts_settings import (
    ContainerSettings,
    copy_mar_with_overrides,
    handler_max_request_bytes,
    read_properties,
    write_properties,
)

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("node_classification", "node_regression")
# gs-build-mar flag for each model-config.yaml key the environment may set
_BUILD_FLAGS = {"batchSize": "--batch-size", "maxBatchDelay": "--max-batch-delay",
                "minWorkers": "--min-workers", "maxWorkers": "--max-workers",
                "responseTimeout": "--response-timeout"}
_PR_SET_CHILD_SUBREAPER = 36


class ServeError(RuntimeError):
    """The container cannot serve (bad model directory or settings)."""


def say(msg: str) -> None:
    """A line on stdout (CloudWatch in SageMaker)."""
    print(f"gs-serve: {msg}", flush=True)


def _console_script(name: str) -> str:
    """A console script of this Python environment, else from PATH."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    found = shutil.which(name, path=path)
    if found is None:
        raise ServeError(f"{name} not found next to {sys.executable} or on PATH")
    return found


def task_type_of(yaml_path: Path) -> str:
    """The task of a GraphStorm training YAML: its ``gsf`` task section (GraphStorm's rule)."""
    raw = yaml.safe_load(yaml_path.read_text()) or {}
    found = [t for t in (raw.get("gsf") or {}) if t in TASKS]
    if len(found) != 1:
        raise ServeError(f"cannot tell the task of {yaml_path} (gsf sections {found}); "
                         f"set GS_INFER_TASK_TYPE to one of {TASKS}")
    return found[0]


def build_from_artifacts(model_dir: Path, store: Path, settings: ContainerSettings, tmp: Path) -> str:
    """Builds ``<store>/<name>.mar`` from raw GraphStorm artifacts with gs-build-mar; returns name."""
    from handler.artifacts import locate_artifacts  # the project is installed in the image

    paths = locate_artifacts(model_dir)
    name = os.environ.get("GS_MODEL_NAME", "model")
    task = os.environ.get("GS_INFER_TASK_TYPE") or task_type_of(paths.yaml)
    cmd = [_console_script("gs-build-mar"), "--restore-model-path", str(model_dir),
           "--model-yaml-config-file", str(paths.yaml),
           "--graph-json-config-file", str(paths.transform_json),
           "--infer-task-type", task, "--model-name", name, "--export-path", str(store)]
    for key, value in settings.model_overrides.items():
        cmd += [_BUILD_FLAGS[key], str(value)]
    say(f"building {name}.mar from the GraphStorm artifacts in {model_dir} ({task})")
    archiver_tmp = tmp / "archiver"
    archiver_tmp.mkdir(parents=True, exist_ok=True)
    # torch-model-archiver stages in $TMPDIR/<model-name> and deletes it: give it its own.
    done = subprocess.run(cmd, env={**os.environ, "TMPDIR": str(archiver_tmp)}, check=False)
    if done.returncode != 0:
        raise ServeError(f"gs-build-mar failed with exit status {done.returncode}")
    return name


def prepare_model(model_dir: Path, store: Path, settings: ContainerSettings, tmp: Path) -> str:
    """Puts the model's `.mar` into ``store``; returns the TorchServe model name.

    Raises:
        ServeError: when the directory holds several `.mar` files or neither kind of model.
    """
    if not model_dir.is_dir():
        raise ServeError(f"model directory {model_dir} does not exist (SM_MODEL_DIR)")
    mars = sorted(model_dir.glob("*.mar"))
    if len(mars) > 1:
        raise ServeError(f"{model_dir} holds several .mar files: {[m.name for m in mars]}")
    if mars:
        say(f"serving {mars[0].name} from {model_dir}")
        copy_mar_with_overrides(mars[0], store / mars[0].name, settings.model_overrides)
        return mars[0].stem
    if (model_dir / "model.bin").is_file():
        return build_from_artifacts(model_dir, store, settings, tmp)
    raise ServeError(f"{model_dir} holds neither a .mar nor GraphStorm artifacts (model.bin + YAML + JSON)")


def _reap_children(watched: int) -> int | None:
    """Reaps every exited child (orphans included); returns ``watched``'s exit status if it exited."""
    status = None
    while True:
        try:
            pid, raw = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if pid == 0:
            return status
        if pid == watched:
            status = os.waitstatus_to_exitcode(raw)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, watched: int, grace_s: float) -> None:
    """SIGTERM to the whole process group, SIGKILL to what is left after ``grace_s``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        if not _group_alive(pgid):
            return
        os.killpg(pgid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            _reap_children(watched)
            if not _group_alive(pgid):
                return
            time.sleep(0.1)
    say("some TorchServe processes did not exit after SIGKILL")


def supervise(cmd: list[str], env: dict[str, str], cwd: Path, grace_s: float) -> int:
    """Runs TorchServe in its own process group until it exits or SIGTERM/SIGINT arrives.

    Returns:
        0 after a requested stop; 1 when TorchServe exited by itself.
    """
    requested: list[int] = []

    def on_signal(signum: int, _frame) -> None:
        requested.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Orphaned TorchServe processes (the JVM once the CLI exits) are re-parented to us: reap them.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, start_new_session=True)
    status = None
    while status is None and not requested:
        status = _reap_children(proc.pid)
        time.sleep(0.2)
    if requested:
        say(f"received {signal.Signals(requested[0]).name}: stopping TorchServe and its workers")
    else:
        say(f"TorchServe exited by itself (status {status}): stopping what is left")
    stop_group(proc.pid, proc.pid, grace_s)
    proc.returncode = status if status is not None else 0  # reaped here, not by Popen
    return 0 if requested else 1


def main() -> int:
    """Prepares the model and config, then supervises TorchServe; returns the exit status."""
    env = dict(os.environ)
    own_work = "GS_WORK_DIR" not in env
    work = Path(env["GS_WORK_DIR"]) if not own_work else Path(tempfile.mkdtemp(prefix="gs-serve-"))
    try:
        settings = ContainerSettings.from_env(env)
        store, tmp = work / "model_store", work / "tmp"
        logs = Path(env.get("LOG_LOCATION", str(work / "logs")))
        for d in (store, tmp, logs):
            d.mkdir(parents=True, exist_ok=True)
        name = prepare_model(Path(env.get("SM_MODEL_DIR", "/opt/ml/model")), store, settings, tmp)
        base = Path(env.get("GS_TS_CONFIG", ROOT / "serving_config" / "sagemaker.properties"))
        max_request_bytes = handler_max_request_bytes(store / f"{name}.mar")
        config = write_properties(read_properties(base), settings, store, work / "config.properties",
                                  max_request_bytes)
        log_config = Path(env.get("GS_TS_LOG_CONFIG", Path(__file__).resolve().parent / "log4j2.xml"))
        cmd = [_console_script("torchserve"), "--start", "--foreground", "--ncs",
               "--model-store", str(store), "--models", f"{name}={name}.mar",
               "--ts-config", str(config), "--log-config", str(log_config)]
        ts_env = {**env, "TMPDIR": str(tmp), "TEMP": str(tmp), "LOG_LOCATION": str(logs),
                  "METRICS_LOCATION": str(logs)}
        say(f"starting TorchServe: model {name}, http://{settings.host}:{settings.port} "
            f"(/ping, /invocations), requests up to {max_request_bytes} bytes")
        return supervise(cmd, ts_env, work, float(env.get("GS_STOP_TIMEOUT", "25")))
    except (ServeError, ValueError, FileNotFoundError) as err:
        say(f"error: {err}")
        return 2
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
