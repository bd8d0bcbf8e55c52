"""The identity store: the account, users, groups, roles, access keys and policies as a
replicated state machine in the meta group (every node holds all of it)."""
