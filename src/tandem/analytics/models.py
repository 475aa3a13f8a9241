"""The analytics app's tables, defined in its sub-packages (Django finds an app's models here)."""

from tandem.analytics.dashboard.models import Goal
from tandem.analytics.statistics.models import Experiment, ExperimentAssignment

__all__ = ["Experiment", "ExperimentAssignment", "Goal"]
