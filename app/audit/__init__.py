"""The append-only audit trail of workflow transitions and admin changes."""
