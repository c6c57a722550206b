import gc

from finops.startup import start_up_objects_freeze


def test_start_up_objects_are_out_of_the_collectors_reach():
    try:
        start_up_objects_freeze()
        assert gc.get_freeze_count() > 10_000  # Django, the views, plotly: far more than a handful
    finally:
        gc.unfreeze()
