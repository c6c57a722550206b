# Importing the Celery app here makes @shared_task use it whenever Django starts.
from finops.celery import app as celery_app

__all__ = ("celery_app",)
