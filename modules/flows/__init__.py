"""The flow module: turns flow-table reports into Packetbeat-shaped flow events."""

from .event import flow_documents, flow_event, flow_event_json

__all__ = ["flow_event", "flow_event_json", "flow_documents"]
