"""Batch processing of asset libraries on Ray (``articulate batch``): one task per asset, a resumable manifest,
an HTML report. See docs/batch.md.

    from sdk.batch import BatchConfig, run_batch
    summary = run_batch("library/", "out/", BatchConfig(task="rig", workers=4))
"""
from .scheduler import BatchConfig, run_batch
from .service import submit_batch
from .tasks import TASKS, TaskSpec, register_task

__all__ = ["BatchConfig", "TASKS", "TaskSpec", "register_task", "run_batch", "submit_batch"]
