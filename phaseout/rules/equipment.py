"""Equipment types and the size parameter each is measured by (the one rules depend on)."""

from __future__ import annotations

# Size units are the registry's codes: m3, t, t/d, m2, m.
SIZE_UNITS: dict[str, str] = {
    "blast_furnace": "m3",  # useful volume
    "converter": "t",  # nominal capacity
    "electric_furnace": "t",  # nominal capacity
    "induction_furnace": "t",
    "sintering_machine": "m2",  # sintering area
    "pellet_shaft_furnace": "m2",  # shaft cross-section
    "clinker_line": "t/d",  # clinker output per day
    "cement_mill": "m",  # mill diameter
    "flat_glass_line": "t/d",  # melting capacity per day
}
