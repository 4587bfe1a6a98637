"""Labels of enumerated values: the one place that turns a stored code into what a user reads.

``value_label(source, value, language=None)`` gives the label of ``value`` in the request's
language (or ``language``), where ``source`` is

- a choices class (``RunStatus``, ``TaskState``, the vocabularies below...): its labels are
  Chinese msgids, translated through the English catalog (locale/en/LC_MESSAGES/django.po);
- a catalog field code (``"id_type"``, ``"brand"``...): the catalog's ``value_labels``
  (fields.yaml, zh + en, as data), or the model choices class of a core column
  (``CODED_FIELDS``);
- the name of a vocabulary in ``VOCABULARIES`` (``"health"``, ``"audit_action"``...).

An unknown value comes back as it is (a code the app does not know yet is better shown than
hidden); ``tests/web/test_enum_labels.py`` walks every page to make sure none is shown.
Templates use the ``label`` filter (``{% load labels %}{{ run.status|label:"run_status" }}``)
and ``unit`` for catalog units.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from keycare.catalog.fields import load_catalog
from keycare.core.audit import current_object_type
from keycare.customers.models import Brand, Gender, PaymentType, Status, ValueTier
from keycare.runs.models import RunRequestStatus, RunStatus
from keycare.tasks.models import (
    AppointmentKind,
    ContactResult,
    Decision,
    Recommendation,
    TaskChannel,
    TaskState,
)
from keycare.workorders.models import WorkOrderPriority, WorkOrderStatus


class HealthDimension(models.TextChoices):
    """The four health scores (keycare.engine.risk.health), stored without their prefix."""

    TARIFF_BRAND = "tariff_brand", _("品牌资费")
    CALL_CIRCLE = "call_circle", _("通话圈")
    SERVICE = "service", _("服务")
    BUSINESS = "business", _("业务")


class AuditAction(models.TextChoices):
    """Every ``action`` written by ``keycare.core.audit.record``."""

    LOGIN = "login", _("登录")
    LOGOUT = "logout", _("退出登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
    API_TOKEN_ISSUED = "api_token_issued", _("签发接口令牌")
    DEMO_USERS = "demo_users", _("创建演示用户")
    VIEW_CUSTOMER = "view_customer", _("查看客户")
    SEARCH = "search", _("查询")
    EXPORT = "export", _("导出")
    UNMASK = "unmask", _("查看明文")
    UNMASK_DENIED = "unmask_denied", _("查看明文被拒绝")
    VIEW_QUARANTINE = "view_quarantine", _("查看隔离行")
    LOAD = "load", _("加载客户档案")
    COMPLAINT_RELABEL = "complaint.relabel", _("更正投诉原因与需求")
    MOMENTS_SYNC = "moments.sync", _("同步关键时刻定义")
    MOMENTS_UPDATE = "moments.update", _("修改关键时刻规则")
    MOMENTS_PREVIEW = "moments.preview", _("预览关键时刻规则")
    TASK_CLAIM = "task.claim", _("领取任务")
    TASK_OUTCOME = "task.outcome", _("记录接触结果")
    TASK_COMPLETE = "task.complete", _("完成任务")
    APPOINTMENT_CREATE = "appointment.create", _("创建预约")
    APPOINTMENT_COMPLETE = "appointment.complete", _("完成预约")
    WORKORDER_CREATE = "workorder.create", _("派发工单")
    WORKORDER_START = "workorder.start", _("开始处理工单")
    WORKORDER_CLOSE = "workorder.close", _("关闭工单")
    WORKORDER_ESCALATE = "workorder.escalate", _("工单超时升级")
    SEGMENT_CREATE = "segment.create", _("创建客户群")
    SEGMENT_UPDATE = "segment.update", _("修改客户群")
    CAMPAIGN_CREATE = "campaign.create", _("创建计划活动")
    CAMPAIGN_FINISH = "campaign.finish", _("结束计划活动")
    CAMPAIGN_TASK_COMPLETE = "campaign.task.complete", _("完成活动任务")
    RUN_LOAD = "run.load", _("加载运行结果")
    RUN_REQUEST = "run.request", _("发起日批运行")
    RUN_CANCEL = "run.cancel", _("停止日批运行")
    RUN_REQUEST_SUCCEEDED = "run.request.succeeded", _("日批运行成功")
    RUN_REQUEST_FAILED = "run.request.failed", _("日批运行失败")
    RISK_MODEL_PROMOTE = "risk.model.promote", _("启用风险模型")
    SURVEYS_DRAW = "surveys.draw", _("抽取满意度调查")
    SCHEDULE_RUN = "schedule.run", _("运行定时任务")
    SURVEYS_ANSWER = "surveys.answer", _("记录满意度回答")
    SURVEYS_MODEL = "surveys.model", _("修改满意度模型")
    ALLOCATION_SETTINGS_PREVIEW = "allocation.settings.preview", _("预览派送设置")
    ASSESSMENT_ADJUST = "assessment.adjust", _("调整考核得分")
    ASSESSMENT_COMPUTE = "assessment.compute", _("计算考核")
    ASSESSMENT_STATUS = "assessment.status", _("变更考核状态")
    REMINDERS_DIGEST = "reminders.digest", _("发送提醒摘要")
    REMINDERS_DIGEST_SETTINGS = "reminders.digest_settings", _("设置提醒摘要")
    ASSIGNED_TASK_CREATE = "assigned_task.create", _("下达任务")
    ASSIGNED_TASK_EVALUATE = "assigned_task.evaluate", _("评价任务执行")
    ASSIGNED_TASK_PROGRESS = "assigned_task.progress", _("汇报任务进度")
    CTI_CALL_LIST = "cti.call_list", _("外呼系统取呼叫清单")
    DEPARTMENT_CREATE = "department.create", _("创建部门")
    DEPARTMENT_DEFAULTS = "department.defaults", _("创建默认部门")
    DEPARTMENT_UPDATE = "department.update", _("修改部门")
    EFFECT_LOAD = "effect.load", _("加载效果评估")
    KEYACCOUNT_POINTS_EARN = "keyaccount.points.earn", _("集团积分累积")
    KEYACCOUNT_POINTS_REDEEM = "keyaccount.points.redeem", _("集团积分兑换")
    KEYACCOUNT_POTENTIAL_MOVE = "keyaccount.potential.move", _("推进潜在大客户")
    KEYACCOUNT_RULE_APPLY = "keyaccount.rule.apply", _("计算集团服务规则")
    KEYACCOUNT_RULE_PUBLISH = "keyaccount.rule.publish", _("发布集团服务规则")
    GROUPTASK_STATE = "grouptask.state", _("处理集团预警任务")
    KEYACCOUNT_STANDARDS_PUBLISH = "keyaccount.standards.publish", _("发布集团服务标准")
    KEYACCOUNT_TIERS_APPLY = "keyaccount.tiers.apply", _("应用集团分层")
    KEYACCOUNT_TIERS_PUBLISH = "keyaccount.tiers.publish", _("发布分层规则")
    KEYACCOUNT_UPDATE = "keyaccount.update", _("修改集团档案")
    KEYACCOUNT_VIEW = "keyaccount.view", _("查看集团客户")
    MANAGER_HAND_OVER = "manager.hand_over", _("客户经理交接")
    MANAGER_PROFILE = "manager.profile", _("修改客户经理档案")
    MANAGER_QUALIFICATION_ADD = "manager.qualification_add", _("添加资质证书")
    MANAGER_QUALIFICATION_REMOVE = "manager.qualification_remove", _("删除资质证书")
    MANAGER_STATUS = "manager.status", _("变更客户经理状态")
    PLAN_GENERATE = "plan.generate", _("生成工作计划")
    PLAN_ITEM_ADD = "plan.item_add", _("添加计划事项")
    PLAN_ITEM_REMOVE = "plan.item_remove", _("删除计划事项")
    PLAN_SUBMIT = "plan.submit", _("提交工作计划")
    SMS_EXPIRE = "sms.expire", _("短信过期")
    SMS_HOLD = "sms.hold", _("短信暂缓发送")
    SMS_QUEUE = "sms.queue", _("短信入队")
    SMS_RESEND = "sms.resend", _("重发短信")
    SMS_SUBMIT = "sms.submit", _("短信提交网关")
    SMS_VIEW = "sms.view", _("查看短信发送记录")
    TACTICS_UPDATE = "tactics.update", _("修改保有战术库")
    TASK_DIAL = "task.dial", _("拨打客户电话")
    TASK_DIAL_DENIED = "task.dial_denied", _("拨打被拒绝")
    TASK_NEW_ALERT = "task.new_alert", _("处理后有新预警")
    TASK_SMS_DELIVERED = "task.sms_delivered", _("短信送达，任务完成")
    TASK_SMS_FAILED = "task.sms_failed", _("短信未送达")
    SMS_RECONCILE = "sms.reconcile", _("核对短信提交与状态报告")
    WORK_RECORD = "work.record", _("记录走访/通话")
    SIGNALLING_TASK = "signalling.task", _("实时关键时刻生成任务")
    SIGNALLING_DETECT = "signalling.detect", _("实时关键时刻识别与派发")
    SIGNALLING_PURGE = "signalling.purge", _("清除过期位置数据")
    SIGNALLING_VIEW = "signalling.view", _("查看实时关键时刻（含位置信息）")
    PRIVACY_CONSENT = "privacy.consent", _("记录个人信息处理依据")


class AuditDetailKey(models.TextChoices):
    """Keys of an audit event's ``detail``."""

    TASK = "task", _("任务")
    PAGE = "page", _("页码")
    ROWS = "rows", _("行数")
    FILE = "file", _("文件")
    RULE = "rule", _("规则")
    FILTERS = "filters", _("筛选条件")
    FILTER = "filter", _("筛选条件")
    QUERY = "query", _("查询内容")
    MSISDN = "msisdn", _("手机号码")
    CHANNEL = "channel", _("渠道")
    FIELDS = "fields", _("字段")
    REASON = "reason", _("理由")
    FORMAT = "format", _("格式")
    FILENAME = "filename", _("文件名")
    CREATED = "created", _("新建")
    UPDATED = "updated", _("更新")
    UNCHANGED = "unchanged", _("未变化")
    RETAINED = "retained", _("留存")
    VERSION = "version", _("版本")
    CHANGES = "changes", _("修改内容")
    NOTE = "note", _("备注")
    BUSINESS_DATE = "business_date", _("业务日期")
    RUN_ID = "run_id", _("批次号")
    SECONDS = "seconds", _("耗时（秒）")
    TO_STATE = "to_state", _("新状态")
    OUTCOME = "outcome", _("接触结果")
    CONTACT_RESULT = "contact_result", _("接触结果")
    RECOMMENDATION = "recommendation", _("推荐结果")
    KIND = "kind", _("类型")
    DUE_AT = "due_at", _("预约时间")
    DEPARTMENT = "department", _("部门")
    PRIORITY = "priority", _("优先级")
    RESOLUTION = "resolution", _("处理结果")
    CUSTOMERS = "customers", _("客户数")
    MANAGERS = "managers", _("客户经理数")
    MODE = "mode", _("分配方式")
    SEGMENT = "segment", _("客户群")
    OPEN_TASKS = "open_tasks", _("未完成任务")
    DELIVERY = "delivery", _("数据目录")
    ERROR = "error", _("错误")
    DETECTIONS = "detections", _("预警数")
    SUPPRESSIONS = "suppressions", _("免打扰数")
    QUARANTINE_ROWS = "quarantine_rows", _("隔离行数")
    TASKS = "tasks", _("任务")
    DECISIONS = "decisions", _("派单决策")
    UNKNOWN_SUBSCRIBERS = "unknown_subscribers", _("未知用户数")
    SOURCE_DIR = "source_dir", _("数据目录")
    USERNAMES = "usernames", _("用户名")
    WITHDRAWN = "withdrawn", _("撤回")
    KEPT_WORKED = "kept_worked", _("保留已处理")
    ACTOR = "actor", _("操作人")
    ACTION = "action", _("操作")
    OBJECT_TYPE = "object_type", _("对象类型")
    OBJECT_ID = "object_id", _("对象编号")
    DATE_FROM = "date_from", _("起始日期")
    DATE_TO = "date_to", _("截止日期")
    CITY = "city", _("地市")
    MANAGER = "manager", _("客户经理")
    TIER = "tier", _("价值层级")
    Q = "q", _("用户标识")
    STATE = "state", _("状态")
    STATUS = "status", _("状态")


class AccessChannel(models.TextChoices):
    """Where an unmask came from (``keycare.access.unmask``)."""

    WEB = "web", _("网页")
    API = "api", _("接口")


class AssignMode(models.TextChoices):
    """How a campaign's customers were given to managers (``keycare.workorders.actions``)."""

    OWN = "own", _("按归属经理分配")
    SPREAD = "spread", _("在所选经理间均衡分配")


class ExportFormat(models.TextChoices):
    XLSX = "xlsx", _("Excel")
    CSV = "csv", _("CSV")


# Core contract columns labelled by their model's choices (the catalog's value_labels cover
# the rest; keycare.catalog.fields.MODEL_LABELLED lists the same codes).
CODED_FIELDS: dict[str, type[models.Choices]] = {
    "gender": Gender,
    "brand": Brand,
    "payment_type": PaymentType,
    "status": Status,
    "value_tier": ValueTier,
}

VOCABULARIES: dict[str, type[models.Choices]] = {
    "health": HealthDimension,
    "audit_action": AuditAction,
    "audit_key": AuditDetailKey,
    "run_status": RunStatus,
    "run_request_status": RunRequestStatus,
    "task_state": TaskState,
    "task_channel": TaskChannel,
    "decision": Decision,
}

# Audit detail keys whose values are codes of a vocabulary.
AUDIT_VALUE_SOURCES: dict[str, Any] = {
    "to_state": TaskState,
    "contact_result": ContactResult,
    "recommendation": Recommendation,
    "kind": AppointmentKind,
    "priority": WorkOrderPriority,
    "status": WorkOrderStatus,
    "mode": AssignMode,
    "channel": AccessChannel,
    "format": ExportFormat,
    "tier": ValueTier,
    "state": TaskState,
}


def _language(language: str | None) -> str:
    return (language or translation.get_language() or "zh-hans").lower()


def _catalog_value_labels() -> dict:
    return load_catalog().value_labels


def value_label(source, value, language: str | None = None) -> str:
    """The label of ``value`` (see the module docstring for ``source``)."""
    if value is None or value == "":
        return ""
    if isinstance(source, str):
        catalog_labels = _catalog_value_labels().get(source)
        if catalog_labels is not None:
            label = catalog_labels.get(str(value))
            if label is None:
                return str(value)
            return label.en if _language(language).startswith("en") else label.zh
        source = CODED_FIELDS.get(source) or VOCABULARIES.get(source)
        if source is None:
            return str(value)
    labels = dict(source.choices)
    if value not in labels:
        return str(value)
    if language is None:
        return str(labels[value])
    with translation.override(language):
        return str(labels[value])


def has_labels(field_code: str) -> bool:
    """True for a catalog field whose values are codes with labels."""
    return field_code in CODED_FIELDS or field_code in _catalog_value_labels()


def unit_label(unit: str | None, language: str | None = None) -> str:
    """A catalog unit as the user reads it (元/月, 年...)."""
    if not unit:
        return ""
    label = load_catalog().units.get(unit)
    if label is None:
        return unit
    return label.en if _language(language).startswith("en") else label.zh


def object_type_label(object_type: str) -> str:
    """``app_label.model`` (an audit event's object type) as the model's verbose name."""
    try:
        model = apps.get_model(current_object_type(object_type))
    except (LookupError, ValueError):
        return object_type
    return str(model._meta.verbose_name)


def audit_detail_text(detail: Any) -> str:
    """An audit event's detail as "键：值；…" with labelled keys and values."""
    if not isinstance(detail, dict):
        return "" if detail in (None, "", [], {}) else _detail_value(None, detail)
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        name = value_label(AuditDetailKey, key)
        parts.append(f"{name}：{_detail_value(key, value)}")
    return "；".join(parts)


def _detail_value(key, value) -> str:
    if isinstance(value, dict):
        return "（" + audit_detail_text(value) + "）"
    if isinstance(value, list | tuple):
        return "、".join(_detail_value(key, v) for v in value)
    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    if key == "fields" and isinstance(value, str):  # catalog / customer field codes
        field = load_catalog().by_code.get(value)
        if field is not None:
            return field.en if _language(None).startswith("en") else field.zh
    source = AUDIT_VALUE_SOURCES.get(key)
    if source is not None:
        return value_label(source, value)
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:
            return _detail_value(key, json.loads(value))
        except ValueError:
            pass
    return str(value)


def all_choices() -> list[type[models.Choices]]:
    """Every choices class of the project (for the tests that check labels are shown)."""
    found, stack = [], [models.TextChoices, models.IntegerChoices]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("keycare."):
                found.append(sub)
    return found
