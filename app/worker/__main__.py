"""`python -m app.worker`: the worker process (app/worker/commands.py)."""

from app.worker.commands import worker

worker()
