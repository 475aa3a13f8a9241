"""KPI goals the dashboard measures actuals against (versioned: each change is a new row)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Goal(models.Model):
    """One version of an agreed KPI goal for one month or quarter; every change adds a version.

    The row with ``is_current`` is the goal in force; older versions stay for the history (who changed the
    goal, when and why). A cleared goal is a current version with no target.
    """

    class Metric(models.TextChoices):
        MQLS = "mqls", "MQLs"
        SQLS = "sqls", "SQLs"
        PIPELINE = "pipeline", "Pipeline created"
        REVENUE = "revenue", "Revenue"
        CAC = "cac", "CAC"
        WIN_RATE = "win_rate", "Win rate"

    class Period(models.TextChoices):
        MONTH = "month", "Month"
        QUARTER = "quarter", "Quarter"

    metric = models.CharField(max_length=12, choices=Metric.choices)
    period = models.CharField(max_length=8, choices=Period.choices)
    # The first day of the month or quarter.
    period_start = models.DateField()
    # None: the goal was cleared. Win rate is a fraction (0.25 = 25 %); money in the company's currency.
    target = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="goals_set"
    )
    set_at = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["metric", "period", "period_start", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "period", "period_start", "version"], name="goal_version_unique"),
            models.UniqueConstraint(
                fields=["metric", "period", "period_start"], condition=Q(is_current=True), name="goal_one_current"
            ),
            models.CheckConstraint(condition=Q(target__isnull=True) | Q(target__gte=0), name="goal_target_not_negative"),
            models.CheckConstraint(
                condition=~Q(metric="win_rate") | Q(target__isnull=True) | Q(target__lte=1), name="goal_win_rate_at_most_one"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="goal_version_positive"),
        ]
        indexes = [models.Index(fields=["period", "period_start"], name="goal_period")]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.period} {self.period_start} v{self.version}"
