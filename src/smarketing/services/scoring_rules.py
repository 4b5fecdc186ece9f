"""The playbook's `fit` and `engagement` sections compiled for `domain.scoring`: conditions
become predicates, `page` regexes are compiled, and we note which fields each rule reads (so
batches judge each distinct value once and fetch only the touch columns a `when` needs)."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from functools import partial

from smarketing.domain.scoring import EngagementRule, FitRule, Record, ScoringRules
from smarketing.playbook.conditions import AllOf, AnyOf, Condition, NotOf, evaluate, lookup
from smarketing.playbook.schema import Playbook
from smarketing.store.scores import ACCOUNT_COLUMNS, EVENT_COLUMNS, PERSON_COLUMNS

DERIVED_PERSON_FIELDS = ("email_domain", "freemail")

Key = Callable[[Record], Hashable]


@dataclass(frozen=True, slots=True)
class CompiledRules:
    rules: ScoringRules
    fit_keys: tuple[Key | None, ...]
    """Per fit rule: what it reads of a record (rules reading the same fields share one)."""
    event_columns: tuple[str, ...]
    """Touch columns besides kind, name and url that some `when` reads."""
    person_traits: bool
    account_traits: bool
    person_when: bool
    """Some engagement `when` reads the person or the account."""


def fields_of(condition: Condition) -> Iterator[str]:
    """Every dotted field a condition reads."""
    if isinstance(condition, AllOf):
        for c in condition.all:
            yield from fields_of(c)
    elif isinstance(condition, AnyOf):
        for c in condition.any:
            yield from fields_of(c)
    elif isinstance(condition, NotOf):
        yield from fields_of(condition.not_)
    else:
        yield condition.field


def _key(fields: tuple[str, ...]) -> Key:
    if len(fields) == 1:
        return partial(lookup, dotted=fields[0])
    return lambda record: tuple(_hashable(lookup(record, f)) for f in fields)


def _hashable(value: object) -> Hashable:
    return value if isinstance(value, Hashable) else repr(value)


def _test(condition: Condition) -> Callable[[Record], bool]:
    return partial(evaluate, condition)


def _reads_traits(fields: set[str], record: str, columns: tuple[str, ...]) -> bool:
    """Whether some field of `record` is not a column (so it can only be a trait)."""
    return any(f.split(".")[0] == record and f.split(".")[1] not in columns for f in fields)


def compile_rules(playbook: Playbook) -> CompiledRules:
    keys: dict[tuple[str, ...], Key] = {}
    fit_rules: list[FitRule] = []
    fit_keys: list[Key | None] = []
    read: set[str] = set()
    for rule in playbook.fit.rules:
        fields = tuple(sorted(set(fields_of(rule.when))))
        read.update(fields)
        fit_rules.append(FitRule(rule.id, rule.points, _test(rule.when)))
        fit_keys.append(keys.setdefault(fields, _key(fields)) if fields else None)
    engagement: list[EngagementRule] = []
    columns: set[str] = set()
    for r in playbook.engagement.rules:
        reads = set(fields_of(r.when)) if r.when else set()
        read.update(reads)
        columns.update(f.split(".")[1] for f in reads if f.startswith("event."))
        engagement.append(
            EngagementRule(
                id=r.id,
                points=r.points,
                event=r.event,
                page=re.compile(r.page) if r.page is not None else None,
                when=_test(r.when) if r.when else None,
                when_reads_person=any(f.startswith(("person.", "account.")) for f in reads),
                cap=r.cap,
                daily_cap=r.daily_cap,
            )
        )
    rules = ScoringRules(
        timezone=playbook.timezone,
        fit=tuple(fit_rules),
        max_fit=playbook.fit.max_points,
        engagement=tuple(engagement),
        half_life_days=playbook.engagement.half_life_days,
        daily_cap=playbook.engagement.daily_cap,
    )
    return CompiledRules(
        rules=rules,
        fit_keys=tuple(fit_keys),
        event_columns=tuple(c for c in EVENT_COLUMNS if c in columns),
        person_traits=_reads_traits(read, "person", (*PERSON_COLUMNS, *DERIVED_PERSON_FIELDS)),
        account_traits=_reads_traits(read, "account", ACCOUNT_COLUMNS),
        person_when=any(r.when_reads_person for r in engagement),
    )
