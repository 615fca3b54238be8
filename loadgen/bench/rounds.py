"""The order of a comparison's runs: rounds, in each every figure against every server in turn."""


def server_order(servers, round_number, balanced):
    """The servers in the order round `round_number` (counted from 1) runs them. A balanced
    order reverses them in even rounds: with one ringd binary run in two places of a round, the
    second won every round by 16 % (docs/benchmarks.md), so each place is taken in turn."""
    if balanced and round_number % 2 == 0:
        return list(reversed(servers))
    return list(servers)


def schedule(rounds, figures, servers, balanced=False):
    """[(round number, [(figure, server), ...]), ...]: the runs, round by round, each round
    taking the figures in order and, for each figure, the servers in `server_order`."""
    return [
        (number, [(figure, server) for figure in figures
                  for server in server_order(servers, number, balanced)])
        for number in range(1, rounds + 1)
    ]
