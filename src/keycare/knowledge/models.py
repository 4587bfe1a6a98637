"""The service knowledge graph's aggregate edges (materialised by ``keycare knowledge build``).

A customer's own edges (their signals, complaints, causes, needs, product, area, tactics and
outcomes) are read on demand from the relations that already hold them, through the same
scope rules as everything else; only the edges that summarise many customers are stored here,
one row per (relation, source, target, city), so "what worked for similar customers" and
"which causes go with which needs" are one indexed read. See docs/architecture.md.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class Relation(models.TextChoices):
    CAUSE_NEED = "cause_need", _("原因→需求")
    NEED_TACTIC = "need_tactic", _("需求→战术")
    CAUSE_TACTIC = "cause_tactic", _("原因→战术")
    CAUSE_OUTCOME = "cause_outcome", _("原因→处理结果")
    PRODUCT_CAUSE = "product_cause", _("套餐→原因")


class Edge(models.Model):
    relation = models.CharField(_("关系"), max_length=16, choices=Relation.choices)
    source = models.CharField(_("起点"), max_length=40)
    target = models.CharField(_("终点"), max_length=40)
    city = models.ForeignKey("org.City", on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(_("次数"), default=0)
    # For tactic edges: outcomes where the customer accepted; for outcome edges: resolved.
    positive = models.PositiveIntegerField(_("成功次数"), default=0)
    built_at = models.DateTimeField(_("生成时间"), auto_now_add=True)

    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["relation", "source"], name="edge_relation_source")]
        constraints = [
            models.UniqueConstraint(
                fields=["relation", "source", "target", "city"], name="uniq_edge_per_city"
            )
        ]
        verbose_name = _("知识图谱边")
        verbose_name_plural = _("知识图谱边")

    def __str__(self):
        return f"{self.relation} {self.source}->{self.target}"
