"""Check the Jinja2 templates consultants write in automations (notification subjects and
bodies per language, webhook bodies) so ``metacrm validate`` refuses a broken or unsafe one
with its file and path, before any record reaches it; a webhook body may read only the
fields its automation declares it sends."""

from __future__ import annotations

from engine.records.templates import record_reads, template_problem
from metadata import Problem, ResolvedSchema
from metadata.model.automations import CallWebhook, SendNotification
from metadata.resolve import SourceIndex

__all__ = ["check_templates"]


def check_templates(schema: ResolvedSchema, sources: SourceIndex) -> list[Problem]:
    problems: list[Problem] = []
    for name, automation in schema.automations.items():
        origin = schema.origins[f"automations.{name}"]
        for index, action in enumerate(automation.actions):
            texts: list[tuple[tuple[str | int, ...], str]] = []
            if isinstance(action, SendNotification):
                for part in ("subject", "body"):
                    for locale, text in getattr(action, part).items():
                        texts.append(((part, locale), text))
            elif isinstance(action, CallWebhook) and action.body is not None:
                texts.append((("body",), action.body))
            for sub, text in texts:
                refused = template_problem(text)
                if refused:
                    problems.append(
                        sources.problem(
                            origin,
                            ("actions", index, *sub),
                            code="bad_template",
                            message=f"the template is refused: {refused}",
                        )
                    )
            if isinstance(action, CallWebhook) and action.body is not None:
                sent = {"id", "version", *action.fields}
                for name in sorted(n for n in record_reads(action.body) - sent if n[:1] != "_"):
                    problems.append(
                        sources.problem(
                            origin,
                            ("actions", index, "body"),
                            code="unsent_field",
                            message=f"the body reads record.{name}, which is not in fields",
                            expected=f"one of {', '.join(sorted(sent))}, or add it to fields",
                        )
                    )
    return problems
