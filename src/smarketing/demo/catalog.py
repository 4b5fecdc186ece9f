"""The fixed cast of the demo company: traffic sources, campaigns, content, names."""

from __future__ import annotations

from dataclasses import dataclass

from smarketing.domain.model import ContentKind


@dataclass(frozen=True, slots=True)
class Traffic:
    """One way people arrive: UTM set and/or referrer, with its share of first touches."""

    key: str
    weight: float
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    referrer: str | None = None
    gclid: bool = False


TRAFFIC: tuple[Traffic, ...] = (
    Traffic("google-organic", 0.20, referrer="https://www.google.com/"),
    Traffic("google-ads", 0.12, "google", "cpc", "search-brand-and-category", gclid=True),
    Traffic("linkedin-organic", 0.10, referrer="https://www.linkedin.com/feed/"),
    Traffic("linkedin-ads", 0.09, "linkedin", "paid_social", "abm-enterprise"),
    Traffic("newsletter", 0.10, "newsletter", "email", "monthly-newsletter"),
    Traffic("direct", 0.12),
    Traffic("partner", 0.06, "partner-network", "partner", "partner-program"),
    Traffic("review-site", 0.06, referrer="https://www.g2.com/products/smarketing/reviews"),
    Traffic("display", 0.05, "adnetwork", "display", "retargeting-q"),
    Traffic("youtube", 0.04, referrer="https://www.youtube.com/watch?v=demo"),
    Traffic("press", 0.03, referrer="https://techpress.example/news/launch"),
    Traffic("bing-ads", 0.03, "bing", "cpc", "search-category"),
)

# (name, traffic key it pays for, cost in USD, days it ran before "now")
CAMPAIGNS: tuple[tuple[str, str, int, int], ...] = (
    ("search-brand-and-category", "google-ads", 42000, 365),
    ("abm-enterprise", "linkedin-ads", 56000, 300),
    ("monthly-newsletter", "newsletter", 6000, 365),
    ("partner-program", "partner", 18000, 365),
    ("retargeting-q", "display", 15000, 200),
    ("search-category", "bing-ads", 9000, 240),
    ("pipeline-webinars", "newsletter", 12000, 300),
    ("product-launch-pr", "press", 8000, 120),
)

_TOPICS = (
    "lead-scoring",
    "mql-vs-sql",
    "sales-sla",
    "closed-loop-reporting",
    "attribution-models",
    "revops-metrics",
    "abm-playbook",
    "funnel-benchmarks",
    "lead-routing",
    "pipeline-velocity",
    "content-roi",
    "buyer-journeys",
    "sales-enablement",
    "intent-data",
    "churn-signals",
)


def content_catalog() -> list[tuple[str, ContentKind, str]]:
    """About sixty content items: (url path, kind, title)."""
    items: list[tuple[str, ContentKind, str]] = []
    for i, topic in enumerate(_TOPICS * 2):
        part = "" if i < len(_TOPICS) else "-part-2"
        items.append(
            (
                f"/blog/{topic}{part}",
                ContentKind.BLOG_POST,
                f"{topic.replace('-', ' ').title()}{' (part 2)' if part else ''}",
            )
        )
    for topic in _TOPICS[:8]:
        items.append(
            (
                f"/whitepapers/{topic}-guide",
                ContentKind.WHITEPAPER,
                f"The {topic.replace('-', ' ')} guide",
            )
        )
    for n in range(1, 7):
        items.append((f"/press/release-{n}", ContentKind.PRESS_RELEASE, f"Press release {n}"))
    for topic in _TOPICS[3:9]:
        items.append(
            (f"/webinars/{topic}-live", ContentKind.WEBINAR, f"Webinar: {topic.replace('-', ' ')}")
        )
    for name in (
        "northwind",
        "bluefield",
        "acme-robotics",
        "globex",
        "initech",
        "umbrella",
        "hooli",
        "vandelay",
        "stark-logistics",
        "wayne-health",
    ):
        items.append((f"/customers/{name}", ContentKind.CASE_STUDY, f"Case study: {name}"))
    items.append(("/pricing", ContentKind.PAGE, "Pricing"))
    items.append(("/demo", ContentKind.PAGE, "Book a demo"))
    return items


FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Adams",
    "Berg",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kim",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quist",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
)
TITLES = (
    "VP Marketing",
    "Head of Growth",
    "Marketing Manager",
    "Demand Gen Specialist",
    "Director of Sales",
    "Sales Manager",
    "RevOps Analyst",
    "CMO",
    "CRO",
    "Account Executive",
    "Marketing Operations Lead",
    "Content Marketer",
    "Software Engineer",
    "Intern",
)
INDUSTRIES = (
    "Software",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Education",
    "Logistics",
    "Media",
)
COMPANY_WORDS = (
    "North",
    "Blue",
    "Bright",
    "Iron",
    "Silver",
    "Green",
    "Swift",
    "Summit",
    "River",
    "Cloud",
    "Stone",
    "Harbor",
    "Pine",
    "Nova",
    "Atlas",
    "Orbit",
)
COMPANY_SUFFIXES = ("wind", "field", "works", "labs", "systems", "logic", "point", "gate")
LOST_REASONS = ("price", "competitor", "no decision", "timing", "missing feature")
REJECT_REASON_WEIGHTS = {
    "bad-fit": 0.30,
    "no-budget": 0.20,
    "bad-timing": 0.25,
    "no-contact": 0.15,
    "duplicate": 0.05,
    "student-or-competitor": 0.05,
}
