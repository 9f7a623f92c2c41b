"""Two real ``toolprm prepare`` runs on one fresh cache: one converts, the other waits and uses it.

This once failed with ``[Errno 2] No such file or directory: '.../gemma-3-270m-q4_k_m.gguf'``:
both processes assembled, and deleted, the same GGUF. It costs one real conversion (about two
minutes of CPU); ``TOOLPRM_CACHE`` is set for the two subprocesses only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import langchain_toolprm
from langchain_toolprm.core.embedded import _check_cache

# The subprocesses run the code under test, wherever the installed package points.
SOURCE = str(Path(langchain_toolprm.__file__).parents[1])


def start_prepare(cache_root: Path, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TOOLPRM_CACHE": str(cache_root),
           "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "langchain_toolprm.cli", "prepare"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=log.open("w"))


def test_two_concurrent_prepares_share_one_conversion(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    first = start_prepare(root, tmp_path / "first.err")
    # The second starts a couple of seconds after the first has taken the lock and begun converting.
    deadline = time.monotonic() + 300
    while "converting the embedded Gemma" not in (tmp_path / "first.err").read_text():
        assert first.poll() is None, (tmp_path / "first.err").read_text()
        assert time.monotonic() < deadline, "the first prepare never started converting"
        time.sleep(0.5)
    time.sleep(2)
    second = start_prepare(root, tmp_path / "second.err")
    outs = [p.communicate(timeout=1200)[0] for p in (first, second)]
    errs = [(tmp_path / f"{name}.err").read_text() for name in ("first", "second")]
    assert [p.returncode for p in (first, second)] == [0, 0], errs
    target = root / "gemma-3-270m"
    assert [out.strip().splitlines()[-1] for out in outs] == [str(target)] * 2
    assert "waiting for another process to finish converting" in errs[1] and str(root / "gemma-3-270m.lock") in errs[1]
    assert "converting the embedded Gemma" not in errs[1]  # it used the first one's conversion
    # Nothing else is left beside the cache (no GGUF, no work folder), and every digest holds.
    assert sorted(p.name for p in root.iterdir()) == ["gemma-3-270m", "gemma-3-270m.lock"]
    _check_cache(target, full=True)
