"""The spine (中枢): settings, storage, catalog, ingest, quarantine, lineage and the stream bus.

`hub` imports no domain: domains declare what they bring (`hub.domain.Domain`) and the hub serves them.
"""
