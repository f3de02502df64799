"""The main job's quiet console: library output goes to a log file, the job's own lines stay."""

from __future__ import annotations

import subprocess
import sys
import textwrap

JOB = textwrap.dedent("""
    import logging, os, subprocess, sys, warnings
    from pathlib import Path
    from loopwatch.runtime import stderr_to

    noisy = logging.getLogger("some.library")
    noisy.addHandler(logging.StreamHandler())  # as Lightning and DVC do: a stderr handler
    noisy.setLevel(logging.INFO)
    os.close(stderr_to(Path(sys.argv[1])))  # as the main job does, for the whole process
    print("[loop] day 0: drift share 0.00", flush=True)
    noisy.info("GPU available: False")
    warnings.warn("a deprecation from deep inside a library", FutureWarning)
    subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('hint')"])
    print("late", file=sys.stderr)  # at exit too (Prefect's goodbye): still the log's
""")


def test_library_output_goes_to_the_log_and_the_jobs_lines_stay_on_the_console(tmp_path):
    log = tmp_path / "logs" / "job.log"
    out = subprocess.run([sys.executable, "-c", JOB, str(log)], capture_output=True,
                         text=True, check=True)  # a process of its own: pytest swaps stderr
    assert out.stdout == "[loop] day 0: drift share 0.00\n"
    assert out.stderr == ""
    written = log.read_text()
    for text in ("GPU available: False", "a deprecation from deep inside", "hint", "late"):
        assert text in written
    assert "[loop]" not in written


def test_a_prefect_server_set_in_the_users_profile_is_honoured(tmp_path):
    from loopwatch.config import Settings
    from loopwatch.runtime import embedded_env

    settings = Settings.load(tmp_path, env={"LOOPWATCH_STATE_DIR": str(tmp_path / ".state")})
    profiles = tmp_path / "home" / ".prefect" / "profiles.toml"
    profiles.parent.mkdir(parents=True)
    profiles.write_text('active = "server"\n[profiles.server]\n'
                        'PREFECT_API_URL = "http://127.0.0.1:4300/api"\n')
    env = embedded_env(settings, environ={}, home=tmp_path / "home")
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4300/api"  # not an embedded server
    assert env["PREFECT_HOME"] == str(settings.prefect_home)
    # The user's environment wins over their profile, and no profile means no URL.
    assert "PREFECT_API_URL" not in embedded_env(
        settings, environ={"PREFECT_API_URL": "http://elsewhere/api"}, home=tmp_path / "home")
    assert "PREFECT_API_URL" not in embedded_env(settings, environ={}, home=tmp_path / "none")
