"""Running the platform: backup and restore (and, later, the installation's health check)."""
