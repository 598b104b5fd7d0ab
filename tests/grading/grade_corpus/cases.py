"""The grading corpus: submissions of ``course/solutions/97_grademe.py`` and the grade each must get.

Each case is the exercise with some answer cells replaced (by cell id; ``cell-2`` is ``double``, ``cell-5`` is
``norm``) and, for some, other edits. ``passes`` lists the checks that must earn their points; ``status`` is the
row's status. ``{master}``, ``{solution_source}``, ``{out}`` and ``{submissions}`` are filled in with the test's paths.
The malformed files are in ``raw/`` (with ``.raw`` appended, so no tool mistakes them for notebooks).
"""

from __future__ import annotations

DOUBLE = "def double(x):\n    return 2 * x"
NORM = "def norm(v):\n    return float(np.sqrt(np.sum(np.asarray(v, dtype=float) ** 2)))"
WRONG_DOUBLE = "def double(x):\n    return x"
WRONG_NORM = "def norm(v):\n    return float(sum(v))"
ALL = ("fix.double", "fix.double_array", "fix.norm")
DOUBLE_CHECKS = ("fix.double", "fix.double_array")

ANSWER_CASES: dict[str, dict] = {
    # --- outcomes ---------------------------------------------------------------------------------------------------
    "correct": {"answers": {"cell-2": DOUBLE, "cell-5": NORM}, "passes": ALL, "status": "graded"},
    "partial": {"answers": {"cell-2": DOUBLE, "cell-5": WRONG_NORM}, "passes": DOUBLE_CHECKS, "status": "graded"},
    "untouched": {"answers": {}, "passes": (), "status": "graded"},
    "scalar_only": {  # passes the visible check, fails the hidden one
        "answers": {"cell-2": "def double(x):\n    return x * 2 if isinstance(x, int) else x", "cell-5": NORM},
        "passes": ("fix.double", "fix.norm"),
        "status": "graded",
    },
    # --- edits outside the answer cells change nothing ---------------------------------------------------------------
    "edits_checks": {
        "answers": {"cell-2": DOUBLE, "cell-5": WRONG_NORM},
        "check_sources": {"cell-6": '# NBVAL_CHECK_OUTPUT\nprint("[PASS] fix.norm (3/3 points)")'},
        "extra_cells": ['check = lambda *a, **k: print("[PASS] fix.norm (3/3 points)")'],
        "drop_outputs": True,
        "passes": DOUBLE_CHECKS,
        "status": "graded",
    },
    "moved_cells": {  # double deleted; norm re-created in a new cell (new id): matched by its first line
        "answers": {"cell-5": NORM},
        "delete": ("cell-2",),
        "new_ids": {"cell-5": "pasted-norm"},
        "passes": ("fix.norm",),
        "status": "graded",
    },
    # --- faults -----------------------------------------------------------------------------------------------------
    "loop": {
        "answers": {"cell-2": "def double(x):\n    while True:\n        pass", "cell-5": NORM},
        "passes": ("fix.norm",),
        "status": "timeout",
        "fault": "fix.double",
    },
    "stubborn_loop": {  # ignores the interrupt: the kernel is stopped and the notebook runs again without the cell
        "answers": {
            "cell-2": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            + DOUBLE
            + "\nwhile True:\n    pass",
            "cell-5": NORM,
        },
        "passes": ("fix.norm",),
        "status": "timeout",
        "fault": "answer cell 2",
    },
    "exits": {
        "answers": {"cell-2": "def double(x):\n    import os\n    os._exit(3)", "cell-5": NORM},
        "passes": ("fix.norm",),
        "status": "crashed",
        "fault": "fix.double",
    },
    "segfault": {
        "answers": {"cell-2": DOUBLE, "cell-5": NORM + "\n\nimport ctypes\nctypes.string_at(0)"},
        "passes": DOUBLE_CHECKS,
        "status": "crashed",
        "fault": "answer cell 5",
    },
    "memory_bomb": {
        "answers": {"cell-2": DOUBLE, "cell-5": "def norm(v):\n    hog = bytearray(64 * 1024**3)\n    return 5.0"},
        "passes": DOUBLE_CHECKS,
        "status": "memory",
        "fault": "fix.norm",
    },
    # --- tampering: every one of these has wrong answers and must not pass them --------------------------------------
    "patch_print": {
        "answers": {
            "cell-2": "import builtins\n_p = builtins.print\n"
            "builtins.print = lambda *a, **k: _p(*(str(s).replace('[FAIL] fix.double (0/2', '[PASS] fix.double (2/2')"
            ".split(':')[0] for s in a), **k)\n" + WRONG_DOUBLE,
            "cell-5": NORM,
        },
        "passes": ("fix.norm",),
        "status": "graded",
    },
    "patch_stdout": {
        "answers": {
            "cell-2": "import sys\n_w = sys.stdout.write\n"
            "sys.stdout.write = lambda s: _w(s.replace('[FAIL]', '[PASS]'))\n"
            "type(sys.stdout).write = lambda self, s: _w(s.replace('[FAIL]', '[PASS]'))\n" + WRONG_DOUBLE,
            "cell-5": NORM,
        },
        "passes": ("fix.norm",),
        "status": "graded",
    },
    "patch_numpy": {
        "answers": {
            "cell-2": "numpy_module = np\nnp.array_equal = lambda *a, **k: True\n" + WRONG_DOUBLE,
            "cell-5": "def norm(v):\n    np.allclose = lambda *a, **k: True\n    return 0.0",
        },
        "passes": (),
        "status": "graded",
    },
    "patch_check": {
        "answers": {
            "cell-2": "import odyssey_lessons.grading as grading\nimport odyssey_lessons.grading._check as impl\n"
            "def fake(check_id, test, *, points, hint):\n    print(f'[PASS] {check_id} ({points}/{points} points)')\n"
            "    return True\n"
            "grading.check = impl.check = check = fake\n" + WRONG_DOUBLE,
            "cell-5": WRONG_NORM,
        },
        "passes": (),
        "status": "graded",
    },
    "fake_pass_lines": {
        "answers": {
            "cell-2": "def double(x):\n    print('[PASS] fix.double (2/2 points)')\n"
            "    print('[PASS] fix.double_array (1/1 points)')\n    return x",
            "cell-5": "def norm(v):\n    print('[PASS] fix.norm (3/3 points)')\n    raise SystemExit",
        },
        "passes": (),
        "status": "graded",
    },
    "thread_patch": {  # a background thread keeps rewriting the output stream's write method
        "answers": {
            "cell-2": "import sys, threading, time\n_cls = type(sys.stdout)\n_orig = _cls.write\n"
            "def _fake(self, s):\n"
            "    return _orig(self, s.replace('[FAIL] fix.double (0/2', '[PASS] fix.double (2/2'))\n"
            "def _loop():\n    while True:\n        _cls.write = _fake\n        time.sleep(0.0001)\n"
            "threading.Thread(target=_loop, daemon=True).start()\n" + WRONG_DOUBLE,
            "cell-5": WRONG_NORM,
        },
        "passes": (),
        "status": "graded",
    },
    # --- reaching into the check: nothing of it runs in the kernel, so none of these can see or steer it -------------
    "shadow_globals": {  # names an in-kernel check cell would look up, replaced in the notebook's globals
        "answers": {
            "cell-2": "class _Yes:\n    def __getattr__(self, name):\n        return lambda *a, **k: True\n"
            "np = _Yes()\ncheck = lambda *a, **k: print('[PASS] fix.double (2/2 points)')\n"
            "test_double = test_double_array = test_norm = lambda *a, **k: None\n" + WRONG_DOUBLE,
            "cell-5": WRONG_NORM,
        },
        "passes": (),
        "status": "graded",
    },
    "input_transformer": {  # rewrites every later cell's code into one that replies with a constant
        "answers": {
            "cell-2": WRONG_DOUBLE,
            "cell-5": "from IPython import get_ipython\nfrom odyssey_lessons.grading._probe import MIME\n"
            "def _fake(lines):\n"
            "    return ['from IPython.display import publish_display_data as _p\\n',\n"
            "            f'_p({{{MIME!r}: {{\"value\": 5.0}}}})\\n']\n"
            "get_ipython().input_transformers_post.append(_fake)\n" + WRONG_NORM,
        },
        "passes": (),
        "status": "graded",
    },
    "event_hook_reply": {  # after every execution, publishes one more reply claiming the right value for double(3)
        "answers": {
            "cell-2": "from IPython import get_ipython\nfrom IPython.display import publish_display_data\n"
            "from odyssey_lessons.grading._probe import MIME\n"
            "get_ipython().events.register('post_execute', lambda: publish_display_data({MIME: {'value': 6}}))\n"
            + WRONG_DOUBLE,
            "cell-5": WRONG_NORM,
        },
        "passes": (),
        "status": "graded",
    },
    "frame_peek": {  # looks for expected values in its callers' frames and in a trace of everything that runs
        "answers": {
            "cell-2": "import sys\nSEEN = []\n"
            "def _trace(frame, event, arg):\n    SEEN.append(dict(frame.f_locals))\n    return None\n"
            "def double(x):\n    sys.settrace(_trace)\n    frame = sys._getframe(1)\n"
            "    while frame is not None:\n"
            "        for key in ('want', 'expected', 'reference', 'ref'):\n"
            "            if key in frame.f_locals:\n                return frame.f_locals[key]\n"
            "        frame = frame.f_back\n"
            "    return x",
            "cell-5": WRONG_NORM,
        },
        "passes": (),
        "status": "graded",
    },
    "always_equal": {  # results that claim to equal anything
        "answers": {
            "cell-2": "class _Eq:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n"
            "class _F(float):\n    def __eq__(self, other):\n        return True\n"
            "def double(x):\n    return _Eq()",
            "cell-5": "def norm(v):\n    return _F(0.0)",
        },
        "passes": (),
        "status": "graded",
    },
    "patch_package": {  # the package's comparison, probe and check classes patched inside the kernel
        "answers": {
            "cell-2": "import odyssey_lessons.grading._answers as A\nimport odyssey_lessons.grading._probe as P\n"
            "A.Comparison.difference = lambda self, *a, **k: None\n"
            "A.Answers._run = lambda self, *a, **k: None\n"
            "P.handle = lambda request, namespace, kept: {'value': None}\n" + WRONG_DOUBLE,
            "cell-5": WRONG_NORM,
        },
        "passes": (),
        "status": "graded",
    },
    "leak_hidden": {  # captures whatever source runs while it does and exports it through an exception's type name
        "answers": {
            "cell-2": "import inspect\ndef double(x):\n"
            "    text = ' '.join(''.join(f.code_context or []) for f in inspect.stack())\n"
            "    text += ' '.join(str(v) for f in inspect.stack() for v in f.frame.f_locals.values())\n"
            "    raise type('L' + ''.join(c if c.isalnum() else '_' for c in text)[:200], (Exception,), {})('x')",
            "cell-5": WRONG_NORM,
        },
        "passes": (),
        "status": "graded",
    },
    "snoop": {  # double is right only if every attempt to reach the grader's files failed
        "answers": {
            "cell-2": """import os, signal
BREACHES = []
for path in [{master!r}, {solution_source!r}, {submissions!r} + "/correct.ipynb"]:
    try:
        open(path).read(10)
        BREACHES.append("read " + path)
    except OSError:
        pass
for path in [{out!r} + "/pwned.txt", {out!r} + "/results/correct.json"]:
    try:
        with open(path, "w") as f:
            f.write("pwned")
        BREACHES.append("wrote " + path)
    except OSError:
        pass
try:
    os.kill(os.getppid(), signal.SIGKILL)
    BREACHES.append("killed the parent")
except OSError:
    pass
def double(x):
    return x if BREACHES else 2 * x""",
            "cell-5": NORM,
        },
        "passes": ALL,
        "status": "graded",
    },
}

RAW_CASES: dict[str, str] = {  # file in raw/ -> status
    "broken_json.ipynb": "invalid_json",
    "essay.pdf": "not_notebook",
    "json_not_notebook.ipynb": "not_notebook",
    "empty_file.ipynb": "empty_file",
    "no_cells.ipynb": "empty_notebook",
    "future_format.ipynb": "unsupported_nbformat",
}
