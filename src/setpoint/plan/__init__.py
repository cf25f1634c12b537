"""Plan: turn an incident's symptoms into proposed actions."""
