"""`serve` for the SageMaker container: prepare the model, run TorchServe, stop it on SIGTERM.

SageMaker runs ``docker run IMAGE serve``, extracts the model tarball to ``SM_MODEL_DIR``
(default ``/opt/ml/model``), health-checks ``GET /ping`` and sends ``POST /invocations`` to port
``SAGEMAKER_BIND_TO_PORT`` (8080); to stop, it sends SIGTERM and 30 s later SIGKILL.

The model directory holds either one ``*.mar`` built by gs-build-mar, or GraphStorm's own model
tarball contents (``model.bin`` + training YAML + transform JSON at the root, optional ``code/``,
optional ``lm/<NAME>/`` language-model folders), which are served as TorchServe's unarchived
model format: a model-store folder with ``MAR-INF/MANIFEST.json``, the handler entry file, the
model-config.yaml and ``artifacts`` linked to the model directory. That takes milliseconds,
where gs-build-mar would restore the model once to validate it, zip it, and TorchServe would
unzip it again, all on SageMaker's start-up health-check clock; the worker imports the image's
installed (pre-compiled) ``handler`` package. The artifacts are checked cheaply here (files,
task, language models present); a model that does not restore fails in the worker's log.

``torchserve --foreground`` does not pass SIGTERM on to the Java frontend, whose Python workers
would be orphaned; so this process starts TorchServe in its own process group, becomes the
reaper of its orphans, and on SIGTERM/SIGINT stops the whole group itself (SIGTERM, then SIGKILL
after ``GS_STOP_TIMEOUT`` seconds, default 25).
"""

from __future__ import annotations

import ctypes
import json
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
    read_properties,
    served_options,
    write_properties,
)

from handler.contract.names import ARTIFACTS_DIR, MODEL_FILE
from handler.contract.settings import (
    INFER_TASK_TYPE_ENV,
    MODEL_NAME_ENV,
    STOP_TIMEOUT_ENV,
    TS_CONFIG_ENV,
    TS_LOG_CONFIG_ENV,
    WORK_DIR_ENV,
)

ROOT = Path(__file__).resolve().parent.parent
_PR_SET_CHILD_SUBREAPER = 36
# TorchServe's manifest of an unarchived model (as torch-model-archiver --archive-format no-archive).
_MANIFEST = "MAR-INF/MANIFEST.json"
_MODEL_CONFIG = "model-config.yaml"
# The manifest format of torch-model-archiver 0.12 (setup.py's pin); TorchServe warns without it.
_ARCHIVER_VERSION = "0.12.0"


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
    """The task of a GraphStorm training YAML, by the handler's own rule
    (``handler.contract.model_config.task_type_of``)."""
    from handler.contract.artifacts import read_training_yaml
    from handler.contract.model_config import task_type_of as yaml_task

    try:
        return yaml_task(read_training_yaml(yaml_path))
    except (ValueError, yaml.YAMLError) as err:
        raise ServeError(f"cannot tell the task of {yaml_path}: {err}") from None


def build_from_artifacts(model_dir: Path, store: Path, settings: ContainerSettings) -> str:
    """Lays out raw GraphStorm artifacts as an unarchived model ``<store>/<name>/``; returns name.

    Args:
        model_dir: the raw artifacts (read-only; linked, not copied).
        store: TorchServe's model store.
        settings: the container settings (model-config.yaml overrides).

    Returns:
        The TorchServe model name (``GS_MODEL_NAME``, default ``model``).

    Raises:
        ServeError: the task is not what ``GS_INFER_TASK_TYPE`` says, or a language model the
            artifacts name is not in ``<model_dir>/lm/`` (nor ``GS_LM_MODELS``).
    """
    # The project is installed in the image; these modules import neither torch nor DGL.
    import handler
    from handler.contract.artifacts import locate_artifacts
    from handler.contract.lm_config import required_lm_names
    from handler.contract.lm_resolution import LMNotFoundError, LMResolver
    from mar_builder import model_config

    paths = locate_artifacts(model_dir)
    name = os.environ.get(MODEL_NAME_ENV, "model")
    task = task_type_of(paths.yaml)
    wanted = os.environ.get(INFER_TASK_TYPE_ENV)
    if wanted and wanted != task:
        raise ServeError(f"{INFER_TASK_TYPE_ENV} is {wanted} but {paths.yaml.name} was trained for {task}")
    resolver = LMResolver.for_model_dir(model_dir)
    for lm_name in required_lm_names(paths.yaml, paths.transform_json):
        try:
            resolver.resolve(lm_name)
        except LMNotFoundError as err:
            raise ServeError(str(err)) from None
    say(f"serving the GraphStorm artifacts in {model_dir} as model {name} ({task})")
    target = store / name
    (target / "MAR-INF").mkdir(parents=True)
    entry = Path(handler.__file__).resolve().parent / "serving" / "torchserve_handler.py"
    shutil.copy2(entry, target / entry.name)
    # The handler reads <model dir>/artifacts (and its lm/ folder): the model directory itself.
    (target / ARTIFACTS_DIR).symlink_to(model_dir.resolve(), target_is_directory=True)
    config = model_config.to_yaml_dict(model_config.ServingSettings())
    config.update(settings.model_overrides)
    (target / _MODEL_CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    manifest = {"createdOn": time.strftime("%d/%m/%Y %H:%M:%S"), "runtime": "python",
                "model": {"modelName": name, "handler": entry.name, "modelVersion": "1.0",
                          "configFile": _MODEL_CONFIG},
                "archiverVersion": _ARCHIVER_VERSION}
    (target / _MANIFEST).write_text(json.dumps(manifest, indent=2))
    return name


def prepare_model(model_dir: Path, store: Path, settings: ContainerSettings) -> str:
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
    if (model_dir / MODEL_FILE).is_file():
        return build_from_artifacts(model_dir, store, settings)
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
    """SIGTERM to the whole process group, SIGKILL to what is left after ``grace_s``.

    SIGTERM is repeated every second: a frontend that is shutting down may still start a
    replacement worker, which would never see a single SIGTERM and hold the stop until SIGKILL.
    """
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        if not _group_alive(pgid):
            return
        deadline = time.monotonic() + wait_s
        next_signal = 0.0
        while time.monotonic() < deadline:
            _reap_children(watched)
            if not _group_alive(pgid):
                return
            if time.monotonic() >= next_signal:
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    return
                next_signal = time.monotonic() + 1.0
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
    own_work = WORK_DIR_ENV not in env
    work = Path(env[WORK_DIR_ENV]) if not own_work else Path(tempfile.mkdtemp(prefix="gs-serve-"))
    try:
        settings = ContainerSettings.from_env(env)
        store, tmp = work / "model_store", work / "tmp"
        logs = Path(env.get("LOG_LOCATION", str(work / "logs")))
        for d in (store, tmp, logs):
            d.mkdir(parents=True, exist_ok=True)
        name = prepare_model(Path(env.get("SM_MODEL_DIR", "/opt/ml/model")), store, settings)
        base = Path(env.get(TS_CONFIG_ENV, ROOT / "serving_config" / "sagemaker.properties"))
        served = store / name if (store / name).is_dir() else store / f"{name}.mar"
        # The handler section and the GS_* flags, checked as the worker will check them.
        max_request_bytes = served_options(served, env).limits.max_request_bytes
        config = write_properties(read_properties(base), settings, store, work / "config.properties",
                                  max_request_bytes)
        log_config = Path(env.get(TS_LOG_CONFIG_ENV, Path(__file__).resolve().parent / "log4j2.xml"))
        cmd = [_console_script("torchserve"), "--start", "--foreground", "--ncs",
               "--model-store", str(store), "--models", f"{name}={served.name}",
               "--ts-config", str(config), "--log-config", str(log_config)]
        # The hub stays off whatever the image's environment says: language models come only
        # from the model (lm/<NAME>/, a .mar's artifacts/lm/) or GS_LM_MODELS.
        ts_env = {**env, "TMPDIR": str(tmp), "TEMP": str(tmp), "LOG_LOCATION": str(logs),
                  "METRICS_LOCATION": str(logs), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        say(f"starting TorchServe: model {name}, http://{settings.host}:{settings.port} "
            f"(/ping, /invocations), requests up to {max_request_bytes} bytes")
        return supervise(cmd, ts_env, work, float(env.get(STOP_TIMEOUT_ENV, "25")))
    except (ServeError, ValueError, FileNotFoundError) as err:
        say(f"error: {err}")
        return 2
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
