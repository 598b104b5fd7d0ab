"""A long-lived nbval runner: the grader's side of a grading slot, reused for many submissions.

Importing pytest, nbval and nbformat takes seconds (jsonschema); a runner pays that once and then runs
``pytest.main`` for one graded notebook per request. Each request still gets a fresh kernel (a new process, through
``_sandbox.py``), so nothing of a submission outlives it but this trusted process.

Protocol on stdin/stdout, one JSON object per line: the runner prints ``{"ready": true}`` once, then answers each
``{"argv": [...]}`` with ``{"exit": CODE}``. Everything pytest and the kernels print goes to /dev/null. The runner
exits when stdin closes (its grader is gone), removing its folder (its working directory).
"""

from __future__ import annotations

import json
import os
import shutil
import sys


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import nbval.plugin  # noqa: F401  (the slow imports, paid once)
    import pytest

    import odyssey_lessons.grading._nbval_report  # noqa: F401

    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            code = int(pytest.main(request["argv"]))
        except BaseException as exc:  # noqa: BLE001 - report anything and stay alive for the next request
            code = -1
            print(f"runner: {exc!r}", file=sys.stderr)
        protocol.write(json.dumps({"exit": code}) + "\n")
    shutil.rmtree(os.getcwd(), ignore_errors=True)  # the grader is gone: remove the folder it made for this runner


if __name__ == "__main__":
    main()
