from enum import StrEnum


class Dimension(StrEnum):
    """The five dimensions of the comprehensive standards (综合标准)."""

    ENERGY = "energy"
    ENVIRONMENT = "environment"
    QUALITY = "quality"
    SAFETY = "safety"
    TECHNOLOGY = "technology"
