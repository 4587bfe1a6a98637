"""API serializers. Personal fields are masked on the server by ``keycare.access.presenter``,
the same functions the pages use.

Free text that people type (notes, descriptions, feedback) is passed through the presenter's ``free_text`` so a
mobile or ID number written into it does not leak either.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from keycare.access.presenter import free_text, masked_value
from keycare.campaigns.models import Campaign
from keycare.core.parsing import DATETIME_OUT_OF_RANGE, DateTimeOutOfRange, sane_datetime
from keycare.customers.models import Customer
from keycare.moments.models import MomentDefinition, RuleVersion
from keycare.runs.models import Run
from keycare.tasks.models import (
    Appointment,
    AppointmentKind,
    ContactResult,
    Recommendation,
    ServiceTask,
)
from keycare.workorders.models import WorkOrder, WorkOrderPriority


class MaskedField(serializers.ReadOnlyField):
    """A personal field shown masked (the presenter's ``masked_value`` by field name)."""

    def __init__(self, code: str, **kwargs):
        self.code = code
        super().__init__(**kwargs)

    def to_representation(self, value):
        return masked_value(self.code, value)


extend_schema_field({"type": "string"})(MaskedField)


@extend_schema_field({"type": "string"})
class ScrubbedTextField(serializers.ReadOnlyField):
    """Free text with any mobile or ID number inside masked."""

    def to_representation(self, value):
        return free_text(value)


class BoundedDateTimeField(serializers.DateTimeField):
    """A date-time input held to ``keycare.core.parsing.sane_datetime`` (years 1900-2100).

    Every writable date-time field of the API is one of these: year 1 or 9999 would otherwise
    overflow in DRF's own time-zone check or on the way to the database (a 500). The check
    runs in ``enforce_timezone``, which DRF calls on the parsed value before any conversion.
    """

    default_error_messages = {"out_of_range": DATETIME_OUT_OF_RANGE}

    def enforce_timezone(self, value):
        try:
            value = sane_datetime(value)
        except DateTimeOutOfRange:
            self.fail("out_of_range")
        return super().enforce_timezone(value)


class CustomerSerializer(serializers.ModelSerializer):
    msisdn = MaskedField("msisdn")
    name = MaskedField("name")
    id_number = MaskedField("id_number")
    address = MaskedField("address")
    birth_date = MaskedField("birth_date")
    gender = serializers.CharField(read_only=True, help_text="M, F or empty when unknown")
    city = serializers.CharField(source="city.code", read_only=True)
    county = serializers.CharField(source="county.code", read_only=True)
    grid = serializers.CharField(source="grid.code", read_only=True)
    manager = serializers.CharField(
        source="manager.manager_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Customer
        fields = [
            "id", "subscriber_id", "msisdn", "name", "id_number", "gender", "birth_date",
            "address", "join_date", "city", "county", "grid", "brand", "plan_code", "plan_fee",
            "payment_type", "status", "status_date", "value_tier", "star_level", "archive",
            "manager",
        ]  # fmt: skip
        read_only_fields = fields


class CustomerBriefSerializer(serializers.ModelSerializer):
    """The few customer facts a work item needs, masked."""

    msisdn = MaskedField("msisdn")
    name = MaskedField("name")
    city = serializers.CharField(source="city.code", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "subscriber_id", "msisdn", "name", "city"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    customer = CustomerBriefSerializer(read_only=True)
    manager = serializers.CharField(
        source="manager.manager_id", read_only=True, default=None, allow_null=True
    )
    moments = serializers.SerializerMethodField()
    feedback = ScrubbedTextField()

    class Meta:
        model = ServiceTask
        fields = [
            "id", "customer", "manager", "business_date", "cycle", "priority_score",
            "risk_probability", "channel", "state", "version", "claimed_at", "handled_at",
            "moments", "feedback",
        ]  # fmt: skip
        read_only_fields = fields

    def get_moments(self, task) -> list[str]:
        return [item.moment.code for item in task.moments.all()]


class ClaimSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1)


class OutcomeRequestSerializer(serializers.Serializer):
    # "new_alert" is no longer a choice: 处理后有新预警 is set when a later run detects the
    # customer again (keycare.tasks.actions.flag_new_alerts).
    COMPLETE_CHOICES = ("none", "no_change")

    result = serializers.ChoiceField(choices=ContactResult.choices)
    recommendation = serializers.ChoiceField(
        choices=Recommendation.choices, default=Recommendation.NONE
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    complete = serializers.ChoiceField(choices=COMPLETE_CHOICES, default="none")
    # The code of the retention tactic used (an active tactic of the library), optional.
    tactic = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=8, default=None
    )
    version = serializers.IntegerField(required=False, min_value=1)


class AppointmentSerializer(serializers.ModelSerializer):
    customer = CustomerBriefSerializer(read_only=True)
    manager = serializers.CharField(
        source="manager.manager_id", read_only=True, default=None, allow_null=True
    )
    notes = ScrubbedTextField()

    class Meta:
        model = Appointment
        fields = ["id", "task", "customer", "manager", "kind", "due_at", "done_at", "notes"]
        read_only_fields = fields


class AppointmentCreateSerializer(serializers.Serializer):
    task = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=AppointmentKind.choices)
    due_at = BoundedDateTimeField()
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    version = serializers.IntegerField(required=False, min_value=1)


class WorkOrderSerializer(serializers.ModelSerializer):
    customer = CustomerBriefSerializer(read_only=True)
    department = serializers.CharField(source="department.code", read_only=True)
    title = ScrubbedTextField()
    description = ScrubbedTextField()
    resolution = ScrubbedTextField()

    class Meta:
        model = WorkOrder
        fields = [
            "id", "task", "customer", "department", "priority", "title", "description",
            "status", "due_at", "escalated_at", "closed_at", "resolution", "version",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class CampaignSerializer(serializers.ModelSerializer):
    city = serializers.CharField(source="city.code", read_only=True, default=None, allow_null=True)
    segment = serializers.CharField(
        source="segment.name", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "description", "segment", "status", "start_date", "end_date",
            "script", "city",
        ]  # fmt: skip
        read_only_fields = fields


class MomentSerializer(serializers.ModelSerializer):
    class Meta:
        model = MomentDefinition
        fields = [
            "id", "code", "name_zh", "name_en", "category", "cycle", "enabled", "priority",
            "channel", "sms_allowed", "strategy", "script", "sms_template", "thresholds",
            "condition", "current_version",
        ]  # fmt: skip
        read_only_fields = fields


class RuleVersionSerializer(serializers.ModelSerializer):
    moment = serializers.CharField(source="moment.code", read_only=True)
    changed_by = serializers.CharField(
        source="changed_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = RuleVersion
        fields = [
            "id",
            "moment",
            "number",
            "snapshot",
            "changes",
            "changed_by",
            "changed_at",
            "note",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = Run
        fields = [
            "id", "run_id", "business_date", "status", "engine", "definitions_version",
            "model_version", "counts", "quarantined", "suppressed", "detected", "started_at",
            "finished_at", "loaded_at",
        ]  # fmt: skip
        read_only_fields = fields


class WorkOrderCreateSerializer(serializers.Serializer):
    task = serializers.IntegerField(min_value=1)
    department = serializers.CharField(max_length=32, help_text="Department code")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, default=""
    )
    priority = serializers.ChoiceField(
        choices=WorkOrderPriority.choices, default=WorkOrderPriority.NORMAL
    )
    version = serializers.IntegerField(required=False, min_value=1)


class UnmaskRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why the clear values are needed")


class UnmaskResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subscriber_id = serializers.CharField()
    name = serializers.CharField()
    msisdn = serializers.CharField()
    id_number = serializers.CharField(allow_blank=True)
    address = serializers.CharField(allow_blank=True)
    birth_date = serializers.CharField(allow_blank=True)
