"""Users, roles, department and area scoping, sign-in, the audit trail."""
