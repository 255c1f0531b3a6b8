"""Instructor-run workshops: many seats, one cluster (`labrunner workshop ...`).

- `seats`: who a seat is, the names of its namespaces, and how a learner's labrunner knows it is
  one (an extension in the seat's kubeconfig context);
- `rbac`: what a seat may do, as Kubernetes objects;
- `identity`: a seat's client certificate, through the CSR API;
- `rooms`: creating and deleting a workshop;
- `records`: each seat's step results, kept in its namespaces for the instructor;
- `grid` and `exports`: the room view's data, and the results as CSV, JUnit XML or one HTML page.

Light on import: only `seats` is needed by a learner's command, and it loads no Kubernetes client.
"""
