"""Pages where people edit what the dashboards are computed from: TCO rules and line items,
benchmarks, managed API prices, initiatives and the checklist.

Each view reads its object through one scoped helper (`_get_<x>_for_user`), so another team's
object is a 404 everywhere; configuration that spans every team is for leaders and staff."""
