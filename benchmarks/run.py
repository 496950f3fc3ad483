"""`make bench`: run every benchmark in this folder, one after the other."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
env = {**os.environ, "SECURE_COOKIES": "false"}
failed = 0
for script in sorted(HERE.glob("bench_*.py")):
    print(f"== {script.name}", flush=True)
    failed |= subprocess.run([sys.executable, str(script)], env=env).returncode
sys.exit(failed)
