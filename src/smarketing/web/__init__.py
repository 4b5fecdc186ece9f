"""The dashboard: server-rendered pages for both teams (login, overview)."""
