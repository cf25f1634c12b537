"""The event bus every stage publishes on and listens to."""
