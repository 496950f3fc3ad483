"""`make bench`: run every benchmark in this folder, one after the other."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
env = {**os.environ, "SECURE_COOKIES": "false"}
failed = 0
# The load test starts a whole topology as root and runs for minutes: `make load` runs it on its own.
for script in sorted(p for p in HERE.glob("bench_*.py") if p.name != "bench_load.py"):
    print(f"== {script.name}", flush=True)
    failed |= subprocess.run([sys.executable, str(script)], env=env).returncode
sys.exit(failed)
