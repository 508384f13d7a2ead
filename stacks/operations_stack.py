"""Operations of one environment: the alert topic every alarm and failure event targets, and the budget."""

from __future__ import annotations

from aws_cdk import aws_budgets as budgets
from constructs import Construct

from datalake_constructs.alerts import AlertTopic
from stacks.base import PlatformStack
from stacks.config import PlatformConfig


class OperationsStack(PlatformStack):
    """Alerting (KMS-encrypted, TLS-only topic with the configured subscriptions) and a monthly budget."""

    def __init__(self, scope: Construct, *, config: PlatformConfig) -> None:
        super().__init__(
            scope, config=config, component="operations", description="alerting and cost guardrails"
        )
        operations = config.operations
        purpose = "every stack (shared key)" if config.shared_encryption_key else "alert topic"
        self.key = self.new_key("AlertsKey", purpose)
        self.alerts = AlertTopic(
            self,
            "Alerts",
            emails=operations.alert_emails,
            encryption_key=self.key,
            topic_name=f"{config.name_prefix}-alerts",
        )
        self.alert_topic = self.alerts.topic

        def alert(threshold: int, kind: str) -> budgets.CfnBudget.NotificationWithSubscribersProperty:
            return budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    comparison_operator="GREATER_THAN",
                    notification_type=kind,
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=[
                    budgets.CfnBudget.SubscriberProperty(
                        subscription_type="SNS", address=self.alert_topic.topic_arn
                    )
                ],
            )

        # AWS Budgets has no L2 in aws-cdk-lib: L1 CfnBudget. Account-wide cost: a project tag filter
        # would silently read $0 until the tag is activated for cost allocation.
        self.budget = budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{config.name_prefix}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(
                    amount=operations.monthly_budget_usd, unit="USD"
                ),
            ),
            notifications_with_subscribers=[
                *(alert(t, "ACTUAL") for t in operations.budget_thresholds_percent),
                alert(100, "FORECASTED"),
            ],
        )
