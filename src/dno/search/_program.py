"""Running a user's training program as a trial, exactly as W&B's sweep agent would, offline.

The command comes from the sweep file: ``program`` and optionally ``command`` with W&B's macros
(default ``${env} ${interpreter} ${program} ${args}``), expanded as W&B's agent expands them
(``wandb/wandb_agent.py``, ``create_sweep_command_args``). The program runs from the folder
``dno search`` was started in (where ``wandb agent`` would run it); the trial's parameters are
also written to a config file named by ``WANDB_SWEEP_PARAM_PATH``, from which ``wandb.init()``
fills ``wandb.config``. The trial's own folder is in ``DNO_TRIAL_DIR`` (for outputs).

The program reports by printing one JSON object per line (``{"epoch": 3, "val_loss": 0.12}``) or
by calling :func:`dno.log`; dno reads its standard output as it runs, feeds the sweep's metric to
the pruner, and stops a pruned or overdue trial's whole process group (SIGTERM, then SIGKILL
after a grace period). A watchdog process kills the group if dno itself dies, so no program
outlives the search. Every numeric value the program reported is kept in the trial's
``metrics.csv`` (one row per step), as for dno's own models, also for a pruned or failed trial.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from dno._cores import thread_environment
from dno._io import atomic_path
from dno.errors import DnoError, UsageError
from dno.tracking import METRICS_CSV, PROGRAM_ARGS, PROGRAM_PARAMS, write_csv

__all__ = [
    "CONFIG_FILE",
    "MACROS",
    "TRIAL_DIR_ENV",
    "ProgramFailed",
    "ProgramRunner",
    "expand_command",
    "run_config",
]

#: W&B's command macros, all expanded as W&B's agent expands them.
MACROS = (
    "${env}", "${interpreter}", "${program}", "${args}", "${args_no_hyphens}",
    "${args_no_equals}", "${args_no_boolean_flags}", "${args_json}", "${args_json_file}",
    "${args_append_hydra}", "${args_override_hydra}",
)  # fmt: skip
DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
#: the environment variable holding the trial's own folder (for the program's outputs)
TRIAL_DIR_ENV = "DNO_TRIAL_DIR"
#: the per-run config file W&B's agent writes (``WANDB_SWEEP_PARAM_PATH`` points at it)
CONFIG_FILE = PROGRAM_PARAMS
STEP_KEYS = ("step", "epoch", "_step", "iteration", "iter")
GRACE_SECONDS = 5.0
STDERR_TAIL = 20
_ENVVAR = re.compile(r"\$\{envvar\:([A-Z0-9_]*)\}")  # W&B's SWEEP_COMMAND_ENV_VAR_REGEX

_WATCHDOG = """
import os, signal, sys, time
parent, group = int(sys.argv[1]), int(sys.argv[2])
def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
while alive(parent):
    time.sleep(0.5)
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        sys.exit(0)
for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        sys.exit(0)
    time.sleep(2.0)
"""


class ProgramFailed(DnoError):
    """The program exited non-zero, ran out of time, or never reported the metric."""


def _as_sent(value: Any) -> Any:
    """A value as W&B's server hands it to the agent (JSON): a whole float is an int (1.0 -> 1,
    as wandb/sweeps notes for 3e6), mapping keys are sorted."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _as_sent(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_as_sent(v) for v in value]
    return value


def run_config(params: dict[str, Any], nesting: dict[str, list[str]]) -> dict[str, Any]:
    """The run's config as W&B's agent receives it: top-level names sorted, nested parameters
    (``nesting``: name -> path) as nested mappings, dotted names kept as one name."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        *parents, leaf = nesting.get(name, [name])
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return {k: _as_sent(out[k]) for k in sorted(out)}


def _argument_forms(config: dict[str, Any]) -> dict[str, list[str]]:
    """Every ``${args...}`` form, built as W&B's ``create_sweep_command_args`` builds them."""
    forms: dict[str, list[str]] = {k: [] for k in MACROS if k.startswith("${args")}
    del forms["${args_json_file}"]
    for name, value in config.items():
        flag = f"{name}={value}"
        forms["${args}"].append(f"--{flag}")
        forms["${args_no_hyphens}"].append(flag)
        forms["${args_no_equals}"] += [f"--{name}", str(value)]
        forms["${args_append_hydra}"].append(f"+{flag}")
        forms["${args_override_hydra}"].append(f"++{flag}")
        if not isinstance(value, bool):
            forms["${args_no_boolean_flags}"].append(f"--{flag}")
        elif value:
            forms["${args_no_boolean_flags}"].append(f"--{name}")
    forms["${args_json}"] = [json.dumps(config)]
    return forms


def check_command(command: Any) -> list[str]:
    """The command's items as text; an unknown or embedded macro is an error (W&B would drop an
    unknown one silently and pass an embedded one on as written)."""
    if not isinstance(command, list) or not command:
        raise UsageError(
            f"command must be a non-empty list of items, e.g. {DEFAULT_COMMAND}; got {command!r}"
        )
    items = [str(item) for item in command]
    for item in items:
        text = _ENVVAR.sub("", item)
        whole = text.startswith("${") and text.endswith("}") and text.count("${") == 1
        if whole and text not in MACROS:
            reason = (
                "it expands to the parameter names only in W&B's agent"
                if text == "${args_dict}"
                else "W&B's agent would silently drop it"
            )
            raise UsageError(
                f"command item {item!r} is not a macro dno honours ({reason}); known: "
                f"{', '.join(MACROS)}, and ${{envvar:NAME}}"
            )
        if "${" in text and not whole:
            raise UsageError(
                f"command item {item!r}: W&B expands a macro only as a whole item, so your "
                "program would receive it as written; make the macro its own item"
            )
    return items


def expand_command(
    command: list[str], program: str, config: dict[str, Any], json_file: Path
) -> list[str]:
    """W&B's command for one run: ``${envvar:NAME}`` replaced by the variable (or NAME when unset,
    as W&B does), each macro item by its expansion, other items as they are."""
    expansions: dict[str, list[str]] = {
        **_argument_forms(config),
        "${env}": ["/usr/bin/env"],
        "${interpreter}": ["python"],
        "${program}": [program],
        "${args_json_file}": [str(json_file)],
    }
    out: list[str] = []
    for item in check_command(command):
        item = _ENVVAR.sub(lambda m: os.environ.get(m.group(1), m.group(1)), item)
        out += expansions.get(item, [item])
    return out


def write_config_file(path: Path, config: dict[str, Any]) -> None:
    """The file W&B's agent writes for ``wandb.init()`` (``save_config_file_from_dict``)."""
    text = "wandb_version: 1"
    if config:
        document = {k: {"value": v} for k, v in config.items()}
        text += "\n\n" + yaml.safe_dump(document, default_flow_style=False, allow_unicode=True,
                                        sort_keys=False)  # fmt: skip
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


class ProgramRunner:
    """Runs ``program`` from ``workdir`` (where the search started) for one trial seed.

    Args:
        metric: the sweep's metric (the objective), or None: the trial records what the program
            reported, without an objective.
        seed_param: the parameter that receives the replicate seed, or None (then the seed is
            only in the environment variable ``DNO_SEED``).
        nesting: W&B nested parameters, name -> path.
    """

    def __init__(
        self,
        program: str,
        command: list[str] | None,
        metric: str | None,
        workdir: Path,
        seed_param: str | None = None,
        value: str = "last",
        goal: str = "minimize",
        timeout: float | None = None,
        nesting: dict[str, list[str]] | None = None,
        sweep_folder: Path | None = None,
    ) -> None:
        self.program = program
        self.command = check_command(command if command is not None else DEFAULT_COMMAND)
        self.intermediate = metric or ""
        self.metric = metric
        self.workdir = workdir
        self.seed_param = seed_param
        self.value = value
        self.goal = goal
        self.timeout = timeout
        self.nesting = nesting or {}
        if value not in ("last", "best"):
            raise UsageError(f"--metric-value {value!r}; expected last or best")
        if "${program}" in self.command and not (workdir / program).is_file():
            hint = ""
            if sweep_folder is not None and (sweep_folder / program).is_file():
                hint = (f"; it is in {sweep_folder}: start dno search there, as you would start "
                        "wandb agent")  # fmt: skip
            raise UsageError(
                f"program {program!r} does not exist in {workdir} (the folder dno search was "
                f"started in, from which it runs the program as W&B's agent does){hint}"
            )
        if "${interpreter}" in self.command and shutil.which("python") is None:
            raise UsageError(
                "${interpreter} is `python` from your PATH (as in W&B's agent), and there is no "
                "python on your PATH; activate your environment or write the interpreter's path "
                "in command:"
            )

    def run(self, folder: Path, params: dict[str, Any], seed: int, report: Any) -> dict[str, float]:
        folder.mkdir(parents=True, exist_ok=True)
        values = dict(params)
        if self.seed_param is not None:
            values[self.seed_param] = seed
        config = run_config(values, self.nesting)
        args_file = folder / PROGRAM_ARGS
        args_file.write_text(json.dumps(config))
        config_file = folder / CONFIG_FILE
        write_config_file(config_file, config)
        command = expand_command(self.command, self.program, config, args_file.resolve())
        env = {
            **os.environ,
            "WANDB_SWEEP_PARAM_PATH": str(config_file.resolve()),
            "DNO_SEED": str(seed),
            TRIAL_DIR_ENV: str(folder.resolve()),
            "PYTHONUNBUFFERED": "1",
            **thread_environment(),  # this worker's core share, unless the user set them
        }
        if "WANDB_MODE" not in os.environ and "WANDB_API_KEY" not in os.environ:
            env["WANDB_MODE"] = "offline"  # dno is offline: wandb.init() never prompts
        (folder / "command.txt").write_text(shlex.join(command) + "\n")
        return self._supervise(command, self.workdir, env, folder, report)

    def _supervise(
        self, command: list[str], workdir: Path, env: dict[str, str], folder: Path, report: Any
    ) -> dict[str, float]:
        stderr_path = folder / "stderr.log"
        with (folder / "stdout.log").open("w") as out, stderr_path.open("w") as err:
            try:
                process = subprocess.Popen(
                    command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                    start_new_session=True, bufsize=1,
                )  # fmt: skip
            except OSError as error:
                raise ProgramFailed(f"cannot start {command[0]!r}: {error.strerror}") from None
            watchdog = _start_watchdog(process.pid)
            timer = _deadline(process, self.timeout)
            seen: dict[str, list[tuple[int, float]]] = {}
            try:
                self._read(process, out, seen, report)
                code = process.wait()
            except BaseException:
                _stop_group(process)
                raise
            finally:
                timer.cancel()
                watchdog.kill()
                watchdog.wait()
                if process.stdout is not None:
                    process.stdout.close()
                _write_metrics(folder / METRICS_CSV, seen)
        if getattr(timer, "fired", False):
            raise ProgramFailed(f"the program exceeded the time limit of {self.timeout:g} s")
        if code != 0:
            tail = "\n".join(
                deque(stderr_path.read_text(errors="replace").splitlines(), STDERR_TAIL)
            )
            (folder / "stderr_tail.txt").write_text(tail + "\n")
            last = tail.splitlines()[-1] if tail else "(no standard error)"
            raise ProgramFailed(f"the program exited with status {code}: {last}")
        return self._metrics(seen)

    def _read(
        self, process: subprocess.Popen[str], out: Any, seen: dict[str, list[tuple[int, float]]],
        report: Any,
    ) -> None:  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            record = _parse(line)
            if record is None:
                continue
            step = _step(record, seen)
            for key, value in record.items():
                if (
                    key not in STEP_KEYS
                    and isinstance(value, int | float)
                    and not isinstance(value, bool)
                ):
                    seen.setdefault(key, []).append((step, float(value)))
            if self.metric in record and isinstance(record[self.metric], int | float):
                report(step, float(record[self.metric]))

    def _metrics(self, seen: dict[str, list[tuple[int, float]]]) -> dict[str, float]:
        if self.metric is None:  # no objective: keep what was reported
            metrics = {k: v[-1][1] for k, v in seen.items()}
            metrics["epochs_run"] = float(max((len(v) for v in seen.values()), default=0))
            return metrics
        if self.metric not in seen:
            reported = ", ".join(sorted(seen)) or "nothing"
            raise ProgramFailed(
                f"the program never reported the metric {self.metric!r}; it reported: {reported}"
            )
        values = [v for _, v in seen[self.metric] if math.isfinite(v)]
        if not values:
            raise ProgramFailed(f"the metric {self.metric!r} was never finite")
        pick = min if self.goal == "minimize" else max
        metrics = {k: v[-1][1] for k, v in seen.items()}
        metrics[self.metric] = values[-1] if self.value == "last" else pick(values)
        metrics["epochs_run"] = float(len(seen[self.metric]))
        return metrics


def _write_metrics(path: Path, seen: dict[str, list[tuple[int, float]]]) -> None:
    """Write what the program reported as ``metrics.csv``: ``epoch`` (the step), one column each."""
    if not seen:
        return
    rows: dict[int, dict[str, float]] = {}
    for name, points in seen.items():
        for step, value in points:
            rows.setdefault(step, {"epoch": step})[name] = value
    write_csv(path, [rows[step] for step in sorted(rows)], ["epoch", *sorted(seen)])


def _parse(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _step(record: dict[str, Any], seen: dict[str, list[tuple[int, float]]]) -> int:
    for key in STEP_KEYS:
        value = record.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return 1 + max((len(v) for v in seen.values()), default=0)


def _start_watchdog(group: int) -> subprocess.Popen[bytes]:
    """A process that kills the program's group if this process dies (even by SIGKILL)."""
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(group)],
        start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip


class _Timer(threading.Timer):
    fired = False


def _deadline(process: subprocess.Popen[str], timeout: float | None) -> _Timer:
    def expire() -> None:
        timer.fired = True
        _stop_group(process)

    timer = _Timer(timeout or 1e9, expire)
    timer.daemon = True
    if timeout:
        timer.start()
    return timer


def _stop_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM the program's process group, then SIGKILL after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + GRACE_SECONDS
        while time.time() < deadline and process.poll() is None:
            time.sleep(0.05)
        if process.poll() is not None:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
