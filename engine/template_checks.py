"""Check the Jinja2 templates consultants write in automations (notification subjects and
bodies per language, webhook bodies) so ``metacrm validate`` refuses a broken or unsafe one
with its file and path, before any record reaches it."""

from __future__ import annotations

from engine.records.templates import template_problem
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
    return problems
