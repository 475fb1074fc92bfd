"""Run ``dno`` command lines in one child process under a memory limit (for hostile-input tests).

The child (``python tests/hostile.py``) imports dno once, caps its address space with
``resource.setrlimit(RLIMIT_AS)`` at what it uses after the imports plus :data:`BUDGET`, then
reads one JSON request per line (``{"argv": [...], "cwd": "..."}``), runs ``dno.cli.main`` in
that folder and answers ``{"code": int, "stderr": str}``. An input that tries to allocate
without bound fails inside the child instead of taking the machine down.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Address space the cases may add to the child's (after importing dno, torch and numpy).
BUDGET = 3 * 2**30
#: Seconds one case may take (the machine may be loaded; a hostile case is refused in one).
TIMEOUT = 90.0


class HostileRunner:
    """The parent side: start the child once, send command lines, restart it if it dies."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        return subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip

    def run(self, argv: list[str], cwd: Path, timeout: float = TIMEOUT) -> tuple[int, str]:
        """``(exit status, stderr)`` of ``dno ARGV`` run in ``cwd``.

        -9 if the child died, -14 if it did not answer within ``timeout`` seconds (then it is
        killed and restarted for the next case).
        """
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd)}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.process.kill()
            self.process.wait()
            self.process = None
            return -14, f"no answer within {timeout:g} s"
        line = self.process.stdout.readline()
        if not line:
            self.process = None
            return -9, "the child process died"
        answer = json.loads(line)
        return int(answer["code"]), str(answer["stderr"])

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)


def _address_space() -> int:
    """Bytes of address space this process uses now (VmSize)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _serve() -> None:
    import dno.cli
    import dno.training

    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + BUDGET, resource.RLIM_INFINITY))
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # progress bars and prints go nowhere
    for line in sys.stdin:
        request: dict[str, Any] = json.loads(line)
        os.chdir(request["cwd"])
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = dno.cli.main(request["argv"])
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException as error:  # reported, not hidden: the test fails on it
                import traceback

                code = 99
                stderr.write("Traceback (escaped main)\n" + traceback.format_exc())
                del error
        protocol.write(json.dumps({"code": code, "stderr": stderr.getvalue()}) + "\n")
        protocol.flush()


if __name__ == "__main__":
    _serve()
