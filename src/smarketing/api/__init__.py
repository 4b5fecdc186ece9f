"""HTTP surface: REST API under /api, tracking API under /v1, problem+json errors."""
