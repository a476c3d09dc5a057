"""After the fact: the study, and the aggregate of finished runs (reading them, statistics,
tables, W&B export); what a task reports comes from its own hooks (core.tasks)."""
