"""Statistics: which numbers a hypothesis compares (selection), the paired tests and power,
rankings, the kinds' own tests, variance components, tuning budgets, and the verdicts."""
