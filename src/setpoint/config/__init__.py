"""Configuration: pydantic models and the one loader of the YAML file."""

from setpoint.config.loader import load_config, parse_config
from setpoint.config.models import Config

__all__ = ["Config", "load_config", "parse_config"]
