"""The hand-written SQL that bench/score.py races: the default playbook's scores in one statement.

Written by hand for the default playbook (`smarketing init`), the way an analyst would: the
rules are spelled out, regexes become GLOB/LIKE patterns (SQLite has no regex) or `~*`
(PostgreSQL). It follows the contract of `smarketing.domain.scoring` for that playbook:
- the default rules never overlap (event rules need a tracked event, page rules a page view,
  and the page prefixes differ), so one CASE picks each touch's rule;
- there are no negative engagement rules, so the person daily cap is `MIN(day total, 60)`;
- the playbook's time zone is UTC, so a touch's day is its UTC date.
The title rules use `\\b` word boundaries: in SQLite, titles are lowercased, common punctuation
becomes spaces and the words are matched as `% word %` (exact for titles made of letters,
digits, spaces and that punctuation, as the demo's are).
"""

from __future__ import annotations

import sqlite3

from smarketing.domain.identity import FREEMAIL_BRANDS, FREEMAIL_DOMAINS

DECISION_MAKER = ("vp", "vice president", "head", "director", "chief", "ceo", "cto", "cmo", "cio")
PRACTITIONER = ("manager", "lead", "specialist", "analyst")
INDUSTRIES = ("software", "financial services", "healthcare", "manufacturing")
RULES = """
    ('whitepaper-download', 15, 45, NULL), ('webinar-attended', 20, NULL, NULL),
    ('pricing-page', 10, NULL, 10), ('blog-read', 2, 20, NULL),
    ('email-click', 3, 15, NULL), ('case-study', 5, NULL, NULL)"""


def _quoted(values: object) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in sorted(values))  # type: ignore[call-overload]


def _words(column: str, words: tuple[str, ...]) -> str:
    return " OR ".join(f"{column} LIKE '% {w} %'" for w in words)


def _sqlite_freemail() -> str:
    labels = ["[a-z][a-z]", "[a-z][a-z][a-z]"]
    suffixes = labels + [f"{a}.{b}" for a in labels for b in labels]
    suffix_globs = " OR ".join(f"substr(d, instr(d, '.') + 1) GLOB '{s}'" for s in suffixes)
    return (
        f"d IN ({_quoted(FREEMAIL_DOMAINS)}) OR (substr(d, 1, instr(d, '.') - 1) IN "
        f"({_quoted(FREEMAIL_BRANDS)}) AND ({suffix_globs}))"
    )


def sqlite_sql() -> str:
    """Parameters: :now (stored timestamp text), :today (days since 1970-01-01, UTC)."""
    punctuation = "lower(p.title)"
    for ch in ",-/&.()":
        punctuation = f"replace({punctuation}, '{ch}', ' ')"
    view = "('page_view', 'screen_view')"
    epoch = (
        "unixepoch(occurred_at)"
        if sqlite3.sqlite_version_info >= (3, 38)
        else "CAST(strftime('%s', occurred_at) AS INTEGER)"
    )
    return f"""
WITH rules(id, points, cap, daily_cap) AS (VALUES {RULES}),
t AS (
  SELECT person_id, {epoch} / 86400 AS day, kind,
         lower(name) AS name, url,
         substr(url, instr(url, '://') + 3) AS rest
  FROM touchpoints WHERE +occurred_at <= :now AND +person_id IS NOT NULL
),
paths AS (
  SELECT person_id, day, kind, name,
         CASE WHEN kind = 'page_view' AND url IS NOT NULL THEN
           CASE WHEN instr(rest, '/') > 0
                 AND (instr(rest, '?') = 0 OR instr(rest, '/') < instr(rest, '?'))
                 AND (instr(rest, '#') = 0 OR instr(rest, '/') < instr(rest, '#'))
                THEN substr(rest, instr(rest, '/')) ELSE '/' END
         END AS path
  FROM t
),
hits AS (
  SELECT person_id, day, CASE
      WHEN kind NOT IN {view} AND name = 'whitepaper downloaded' THEN 'whitepaper-download'
      WHEN kind NOT IN {view} AND name = 'webinar attended' THEN 'webinar-attended'
      WHEN kind NOT IN {view} AND name = 'email clicked' THEN 'email-click'
      WHEN path GLOB '/pricing*' THEN 'pricing-page'
      WHEN path GLOB '/blog/*' THEN 'blog-read'
      WHEN path GLOB '/customers/*' THEN 'case-study'
    END AS rule
  FROM paths
),
counts AS (
  SELECT person_id, rule, day, COUNT(*) AS n FROM hits WHERE rule IS NOT NULL
  GROUP BY person_id, rule, day
),
rule_days AS (
  SELECT g.person_id, g.rule, g.day, r.cap,
         MIN(g.n * r.points, COALESCE(r.daily_cap, g.n * r.points)) AS v
  FROM counts g CROSS JOIN rules r WHERE r.id = g.rule
),
running AS (
  SELECT person_id, day, v, cap,
         SUM(v) OVER (PARTITION BY person_id, rule ORDER BY day) AS c
  FROM rule_days
),
days AS (
  SELECT person_id, day,
         MIN(SUM(CASE WHEN cap IS NULL THEN v ELSE MIN(c, cap) - MIN(c - v, cap) END), 60) AS pts
  FROM running GROUP BY person_id, day
),
engagement AS (
  SELECT person_id, SUM(pts * power(0.5, (:today - day) / 30.0)) AS engagement
  FROM days GROUP BY person_id
),
people_fit AS (
  SELECT p.id AS person_id, ' ' || {punctuation} || ' ' AS words,
         lower(substr(p.email, instr(p.email, '@') + 1)) AS d, p.email,
         a.employees, lower(a.industry) AS industry
  FROM people p LEFT JOIN accounts a ON a.id = p.account_id
  WHERE p.merged_into_id IS NULL
),
fit AS (
  SELECT person_id,
         CASE WHEN {_words("words", DECISION_MAKER)} THEN 20 ELSE 0 END
       + CASE WHEN {_words("words", PRACTITIONER)} THEN 10 ELSE 0 END
       + CASE WHEN employees >= 200 THEN 15 ELSE 0 END
       + CASE WHEN industry IN ({_quoted(INDUSTRIES)}) THEN 10 ELSE 0 END
       + CASE WHEN email IS NOT NULL AND ({_sqlite_freemail()}) THEN -10 ELSE 0 END AS fit
  FROM people_fit
)
SELECT f.person_id, f.fit, COALESCE(e.engagement, 0) AS engagement,
       f.fit + COALESCE(e.engagement, 0) AS total
FROM fit f LEFT JOIN engagement e ON e.person_id = f.person_id
"""


def postgres_sql() -> str:
    """Parameters: %(now)s (timestamp), %(today)s (days since 1970-01-01 in UTC)."""
    view = "('page_view', 'screen_view')"
    brands = "|".join(sorted(FREEMAIL_BRANDS))
    return f"""
WITH rules(id, points, cap, daily_cap) AS (VALUES {RULES}),
t AS (
  SELECT person_id, (occurred_at::date - DATE '1970-01-01') AS day, kind, lower(name) AS name,
         CASE WHEN kind = 'page_view' AND url IS NOT NULL
              THEN substr(url, strpos(url, '://') + 3) END AS rest
  FROM touchpoints WHERE occurred_at <= %(now)s AND person_id IS NOT NULL
),
paths AS (
  SELECT person_id, day, kind, name,
         CASE WHEN rest IS NOT NULL THEN
           CASE WHEN strpos(rest, '/') > 0
                 AND (strpos(rest, '?') = 0 OR strpos(rest, '/') < strpos(rest, '?'))
                 AND (strpos(rest, '#') = 0 OR strpos(rest, '/') < strpos(rest, '#'))
                THEN substr(rest, strpos(rest, '/')) ELSE '/' END
         END AS path
  FROM t
),
hits AS (
  SELECT person_id, day, CASE
      WHEN kind NOT IN {view} AND name = 'whitepaper downloaded' THEN 'whitepaper-download'
      WHEN kind NOT IN {view} AND name = 'webinar attended' THEN 'webinar-attended'
      WHEN kind NOT IN {view} AND name = 'email clicked' THEN 'email-click'
      WHEN starts_with(path, '/pricing') THEN 'pricing-page'
      WHEN starts_with(path, '/blog/') THEN 'blog-read'
      WHEN starts_with(path, '/customers/') THEN 'case-study'
    END AS rule
  FROM paths
),
counts AS (
  SELECT person_id, rule, day, COUNT(*) AS n FROM hits WHERE rule IS NOT NULL
  GROUP BY person_id, rule, day
),
rule_days AS (
  SELECT g.person_id, g.rule, g.day, r.cap,
         LEAST(g.n * r.points, COALESCE(r.daily_cap, g.n * r.points)) AS v
  FROM counts g JOIN rules r ON r.id = g.rule
),
running AS (
  SELECT person_id, day, v, cap,
         SUM(v) OVER (PARTITION BY person_id, rule ORDER BY day) AS c
  FROM rule_days
),
days AS (
  SELECT person_id, day,
         LEAST(SUM(CASE WHEN cap IS NULL THEN v
                        ELSE LEAST(c, cap) - LEAST(c - v, cap) END), 60) AS pts
  FROM running GROUP BY person_id, day
),
engagement AS (
  SELECT person_id,
         SUM(pts * power(0.5::float8, (%(today)s - day) / 30.0::float8)) AS engagement
  FROM days GROUP BY person_id
),
fit AS (
  SELECT p.id AS person_id,
         CASE WHEN p.title ~* '\\y(vp|vice president|head|director|chief|c[etmi]o)\\y'
              THEN 20 ELSE 0 END
       + CASE WHEN p.title ~* '\\y(manager|lead|specialist|analyst)\\y' THEN 10 ELSE 0 END
       + CASE WHEN a.employees >= 200 THEN 15 ELSE 0 END
       + CASE WHEN lower(a.industry) IN ({_quoted(INDUSTRIES)}) THEN 10 ELSE 0 END
       + CASE WHEN lower(split_part(p.email, '@', 2)) IN ({_quoted(FREEMAIL_DOMAINS)})
                OR lower(split_part(p.email, '@', 2))
                   ~ '^({brands})\\.[a-z]{{2,3}}(\\.[a-z]{{2,3}})?$'
              THEN -10 ELSE 0 END AS fit
  FROM people p LEFT JOIN accounts a ON a.id = p.account_id
  WHERE p.merged_into_id IS NULL
)
SELECT f.person_id, f.fit::float8 AS fit, COALESCE(e.engagement, 0)::float8 AS engagement,
       (f.fit + COALESCE(e.engagement, 0))::float8 AS total
FROM fit f LEFT JOIN engagement e ON e.person_id = f.person_id
"""
