"""Users and roles, sessions, the sign-in limit, the audit log, what errors tell whom."""
