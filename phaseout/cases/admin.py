"""Nothing of cases is in the admin: cases, inspections, measures and escalations are business records
that change only through their actions (which keep the history), and the system administrator who uses
the admin does not read business records (等保 least privilege; see phaseout.orgs.adminsite)."""
