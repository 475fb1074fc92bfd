"""Running a user's training program as a trial, as W&B's sweep agent would, but offline.

The command comes from the sweep file: ``program`` and optionally ``command`` with W&B's macros
(default ``${env} ${interpreter} ${program} ${args}``). The program reports by printing one JSON
object per line (``{"epoch": 3, "val_loss": 0.12}``) or by calling :func:`dno.log`; dno reads
its standard output as it runs, feeds the sweep's metric to the pruner, and stops a pruned or
overdue trial's whole process group (SIGTERM, then SIGKILL after a grace period). A watchdog
process kills the group if dno itself dies, so no program outlives the search. Every numeric
value the program reported is kept in the trial's ``metrics.csv`` (one row per step), as for
dno's own models, also for a pruned or failed trial.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from dno._cores import thread_environment
from dno._io import atomic_path
from dno.errors import DnoError, UsageError

__all__ = ["MACROS", "ProgramFailed", "ProgramRunner", "expand_command", "nest"]

#: W&B's command macros that dno expands.
MACROS = (
    "${env}", "${interpreter}", "${program}", "${args}", "${args_no_hyphens}",
    "${args_json}", "${args_json_file}", "${args_no_boolean_flags}",
)  # fmt: skip
DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
STEP_KEYS = ("step", "epoch", "_step", "iteration", "iter")
GRACE_SECONDS = 5.0
STDERR_TAIL = 20

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


def nest(params: dict[str, Any]) -> dict[str, Any]:
    """Dotted names of nested sweep parameters back into nested dicts, as W&B passes them."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        node = out
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def expand_command(
    command: list[str], program: str, params: dict[str, Any], json_file: Path
) -> list[str]:
    """Expand W&B's macros in ``command`` for the (nested) ``params``.

    ``${args}`` becomes ``--key=value`` per top-level parameter (``str(value)``, as W&B does);
    ``${args_json}`` one JSON argument; ``${args_json_file}`` the path of a file holding it.

    Raises:
        UsageError: a ``${...}`` macro dno does not know (named).
    """
    flags = [f"{k}={v}" for k, v in params.items()]
    no_bool = [f"--{k}" if v is True else f"--{k}={v}" for k, v in params.items() if v is not False]
    expansions: dict[str, list[str]] = {
        "${env}": ["/usr/bin/env"],
        "${interpreter}": [sys.executable],
        "${program}": [program],
        "${args}": [f"--{f}" for f in flags],
        "${args_no_hyphens}": flags,
        "${args_json}": [json.dumps(params)],
        "${args_json_file}": [str(json_file)],
        "${args_no_boolean_flags}": no_bool,
    }
    out: list[str] = []
    for item in command:
        if item in expansions:
            out += expansions[item]
        elif "${" in item:
            raise UsageError(
                f"command item {item!r} uses a macro dno does not know; known: {', '.join(MACROS)}"
            )
        else:
            out.append(item)
    return out


class ProgramRunner:
    """Runs ``program`` (in its own folder under the trial's folder) for one trial seed."""

    def __init__(
        self,
        program: str,
        command: list[str] | None,
        metric: str,
        base_dir: Path,
        seed_param: str = "seed",
        value: str = "last",
        goal: str = "minimize",
        timeout: float | None = None,
    ) -> None:
        self.program = program
        self.command = command or DEFAULT_COMMAND
        self.intermediate = metric
        self.metric = metric
        self.base_dir = base_dir
        self.seed_param = seed_param
        self.value = value
        self.goal = goal
        self.timeout = timeout
        if value not in ("last", "best"):
            raise UsageError(f"--metric-value {value!r}; expected last or best")
        expand_command(self.command, program, {}, Path("x"))  # unknown macros fail now
        uses_program = "${program}" in self.command
        if uses_program and not (base_dir / program).is_file():
            raise UsageError(f"program {program!r} does not exist in {base_dir}")

    def check_params(self, names: list[str]) -> None:
        """Any parameter name is passed on; nothing to check."""

    def run(self, folder: Path, params: dict[str, Any], seed: int, report: Any) -> dict[str, float]:
        workdir = folder / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        arguments = nest({**params, self.seed_param: seed})
        args_file = folder / "args.json"
        args_file.write_text(json.dumps(arguments, indent=2))
        program = str((self.base_dir / self.program).resolve())
        command = expand_command(self.command, program, arguments, args_file)
        env = {
            **os.environ,
            "DNO_SEED": str(seed),
            "DNO_TRIAL": str(folder),
            "PYTHONUNBUFFERED": "1",
            **thread_environment(),  # this worker's core share, unless the user set them
        }
        (folder / "command.txt").write_text(shlex.join(command) + "\n")
        return self._supervise(command, workdir, env, folder, report)

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
                _write_metrics(folder / "metrics.csv", seen)
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
    columns = sorted(seen)
    rows: dict[int, dict[str, float]] = {}
    for name, points in seen.items():
        for step, value in points:
            rows.setdefault(step, {})[name] = value
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *columns])
        for step in sorted(rows):
            writer.writerow([step, *(rows[step].get(c, "") for c in columns)])


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
