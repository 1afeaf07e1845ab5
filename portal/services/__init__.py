"""Public services: the catalogue of what the portal bills for, each owned by a department."""
