"""The audit trail is not in the admin: the auditor reads it on the platform's audit page, and the
system administrator, who uses the admin, neither reads nor changes it (等保 three-role separation; see
phaseout.orgs.adminsite)."""
