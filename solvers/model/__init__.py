"""The scheduling model: the problem (`problem`), its answer (`schedule`), the contention
term (`contention`) and their JSON and text forms (`jsonfields`, `render`). docs/model.md is
the definition; everything else in solvers/ implements or judges it."""
