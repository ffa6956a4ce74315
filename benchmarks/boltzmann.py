"""Plain-Mesa reference: the Boltzmann wealth model written the usual way (Mesa 3.5 API).

Every agent has a Python ``step()`` that gives one unit of wealth to a random other agent (when it
has any); the model activates agents with ``model.agents.shuffle_do("step")`` and collects a
model-level reporter (the Gini coefficient, computed as in Mesa's own example) every step with
:class:`mesa.DataCollector`. The benchmark compares the project's firm-steps per second with this
model's agent-steps per second at the same agent count and steps.

The partner is drawn from a list of the agents built once at construction (the population is
fixed), so the draw is O(1); indexing the AgentSet itself is deprecated in Mesa 3 and O(n).

Run alone: ``python benchmarks/boltzmann.py --agents 20000 --steps 120``.
"""

from __future__ import annotations

import argparse
import time

import mesa


class MoneyAgent(mesa.Agent):
    """An agent with wealth that gives one unit to a random other agent each step."""

    def __init__(self, model: BoltzmannWealth) -> None:
        super().__init__(model)
        self.wealth = 1

    def step(self) -> None:
        """Give one unit of wealth to a random other agent (if any wealth is left)."""
        if self.wealth > 0:
            other = self.random.choice(self.model.agent_list)
            if other is not self:
                other.wealth += 1
                self.wealth -= 1


class BoltzmannWealth(mesa.Model):
    """Boltzmann wealth model without space: ``n`` agents exchanging single units.

    Parameters
    ----------
    n : int
        Number of agents.
    seed : int
        Seed of the model's random generators (``Model(rng=seed)``).
    """

    def __init__(self, n: int = 100, seed: int = 42) -> None:
        super().__init__(rng=seed)
        self.num_agents = n
        MoneyAgent.create_agents(self, n)
        self.agent_list = self.agents.to_list()
        self.datacollector = mesa.DataCollector(model_reporters={"Gini": "gini"})
        self.datacollector.collect(self)

    @property
    def gini(self) -> float:
        """Gini coefficient of wealth (the formula of Mesa's example)."""
        x = sorted(agent.wealth for agent in self.agents)
        n = self.num_agents
        b = sum(xi * (n - i) for i, xi in enumerate(x)) / (n * sum(x))
        return 1 + (1 / n) - 2 * b

    def step(self) -> None:
        """Activate every agent once in random order, then collect the Gini coefficient."""
        self.agents.shuffle_do("step")
        self.datacollector.collect(self)


def measure(n: int, steps: int, seed: int = 42) -> dict[str, float]:
    """Build and run the reference; return construction and run seconds and agent-steps/s."""
    t0 = time.perf_counter()
    model = BoltzmannWealth(n, seed)
    t1 = time.perf_counter()
    for _ in range(steps):
        model.step()
    t2 = time.perf_counter()
    return {"agents": n, "steps": steps, "construct_s": t1 - t0, "run_s": t2 - t1,
            "agent_steps_per_s": n * steps / (t2 - t1),
            "final_gini": float(model.datacollector.get_model_vars_dataframe()["Gini"].iloc[-1])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=20_000)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    r = measure(a.agents, a.steps, a.seed)
    print(f"Boltzmann (plain Mesa) {r['agents']:,} agents × {r['steps']} steps: "
          f"run {r['run_s']:.2f} s, {r['agent_steps_per_s'] / 1e6:.3f} M agent-steps/s")


if __name__ == "__main__":
    main()
