"""The exact backends behind `solvers.solve.solve`: CP-SAT (`cpsat`), the ILP (`ilp`) and SAT
(`sat`), sharing the integer view of a problem (`base`) and the slot/graph helpers of the
exact models (`exact_common`)."""
