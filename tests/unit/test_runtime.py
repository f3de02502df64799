"""The main job's quiet console: library output goes to a log file, the job's own lines stay."""

from __future__ import annotations

import subprocess
import sys
import textwrap

JOB = textwrap.dedent("""
    import logging, subprocess, sys, warnings
    from pathlib import Path
    from loopwatch.runtime import library_output_to

    noisy = logging.getLogger("some.library")
    noisy.addHandler(logging.StreamHandler())  # as Lightning and DVC do: a stderr handler
    noisy.setLevel(logging.INFO)
    with library_output_to(Path(sys.argv[1])):
        print("[loop] day 0: drift share 0.00", flush=True)
        noisy.info("GPU available: False")
        warnings.warn("a deprecation from deep inside a library", FutureWarning)
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('hint')"])
    print("after", file=sys.stderr)  # stderr is the console's again once the block ends
""")


def test_library_output_goes_to_the_log_and_the_jobs_lines_stay_on_the_console(tmp_path):
    log = tmp_path / "logs" / "job.log"
    out = subprocess.run([sys.executable, "-c", JOB, str(log)], capture_output=True,
                         text=True, check=True)  # a process of its own: pytest swaps stderr
    assert out.stdout == "[loop] day 0: drift share 0.00\n"
    assert out.stderr == "after\n"
    written = log.read_text()
    for text in ("GPU available: False", "a deprecation from deep inside", "hint"):
        assert text in written
    assert "[loop]" not in written
