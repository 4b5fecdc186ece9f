"""Ingest: what comes in from outside, parsed into plain records. No storage here.

- `segment`, `touches`: Segment-spec tracking calls and the touchpoints they make.
- `importers`: CSV exports of HubSpot and Salesforce, and any other CSV through a YAML
  mapping, read as a stream and turned into plain records (or row problems) that
  `services.imports` hands to the store.
"""
