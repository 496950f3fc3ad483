"""Loaded before Django reads its settings (pyproject's addopts: `-p tests.environment`).

Production is the settings' default (DEBUG off: HTTPS only, no development keys). The suite runs the
embedded set-up, as the demo does: DEBUG on at start (the development keyring and audit key, plain HTTP),
inherited by the processes the tests start (the live server's, the Celery worker's). Django's test runner
still sets DEBUG off while a test runs. Tests of production settings start a process of their own with
DEBUG=false (tests/test_dengbao_input.py, tests/test_deploy.py).
"""

import os

os.environ.setdefault("DEBUG", "true")
