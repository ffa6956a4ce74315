"""Recording of factor flows between places, and of the sources and sinks of the stocks.

Every unit of talent, technology and capital that moves in a step is recorded origin → destination
(place indices) on a *channel* (hire, service, collaboration, spillover, investment, ...). Amounts
are summed per step and place pair, so a run stays a small table whatever the agent count.
Channels whose destination is chosen with friction also store the expected flow matrix the same
model state would give with every administrative barrier set to zero (for the integration index).

Stocks change only through recorded flows (which move them between places) and recorded
*accounts* (sources and sinks such as graduation, retirement, operating profit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .kernels import jit, register_warm_up


def no_clock(name: str | None) -> None:
    """Kernel timing switched off (see ``CoinnovationModel.timings``): do nothing."""


FACTORS: tuple[str, ...] = ("talent", "technology", "capital")
UNITS: dict[str, str] = {"talent": "person-months", "technology": "万元", "capital": "万元"}


@dataclass(frozen=True)
class Channel:
    """A kind of flow.

    Attributes
    ----------
    factor : str
        One of :data:`FACTORS`.
    name : str
        Channel name, unique within the run.
    chosen : bool
        Whether destinations are chosen under friction (then a border-free expectation is stored).
    """

    factor: str
    name: str
    chosen: bool


@dataclass(frozen=True)
class Account:
    """A source (positive) or sink (negative) of a stock, per place.

    Attributes
    ----------
    factor : str
        ``talent`` or ``capital``.
    name : str
        Account name.
    """

    factor: str
    name: str


CORE_CHANNELS: tuple[Channel, ...] = (
    Channel("talent", "hire", True),
    Channel("technology", "service", True),
    Channel("technology", "collaboration", True),
    Channel("technology", "spillover", True),
    Channel("capital", "investment", True),
    Channel("capital", "repayment", False),
    Channel("capital", "savings", False),
    Channel("capital", "founding", False),
)
CORE_ACCOUNTS: tuple[Account, ...] = (
    Account("talent", "graduation"),
    Account("talent", "retirement"),
    Account("capital", "operations"),
    Account("capital", "institute_services"),
    Account("capital", "collaboration_outlays"),
    Account("capital", "transaction_costs"),
    Account("capital", "exit_writeoff"),
)


class FlowBook:
    """Per-step place-by-place flow matrices, border-free expectations and accounts.

    Parameters
    ----------
    n_places : int
        Number of places ``P``.
    steps : int
        Steps of the run (rows preallocated).
    channels : sequence of Channel
        Channels of the run (core plus mechanisms').
    accounts : sequence of Account
        Accounts of the run.
    """

    def __init__(self, n_places: int, steps: int, channels: tuple[Channel, ...],
                 accounts: tuple[Account, ...]) -> None:
        self.n_places = n_places
        self.channels = tuple(channels)
        self.accounts = tuple(accounts)
        self._ch = {c.name: i for i, c in enumerate(self.channels)}
        self._ac = {a.name: i for i, a in enumerate(self.accounts)}
        p = n_places
        # written out now (``full``, not ``zeros``): a lazily zeroed array would fault its
        # memory in page by page while the run records (about 0.1 ms a month)
        self.flows = np.full((steps, len(self.channels), p, p), 0.0)
        self.free = np.full((steps, len(self.channels), p, p), np.nan)
        self.ledger = np.full((steps, len(self.accounts), p), 0.0)
        self._rows: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.begin(-1)
        self._factor_idx = {f: [i for i, c in enumerate(self.channels) if c.factor == f]
                            for f in FACTORS}
        #: Whether each channel's destinations are chosen (bool per channel).
        self.chosen = np.array([c.chosen for c in self.channels], bool)
        #: Index in :data:`FACTORS` of each channel's factor.
        self.factor_index = np.array([FACTORS.index(c.factor) for c in self.channels], np.int64)
        #: Kernel timer of the model (see ``CoinnovationModel.timings``); recording is timed apart.
        self.clock = no_clock

    def begin(self, t: int) -> None:
        """Start recording step ``t``."""
        self.t = t
        # this step's slices, so that each record indexes one channel or account only
        self._flows_t = self.flows[t]
        self._free_t = self.free[t]
        self._ledger_t = self.ledger[t]
        # channels with a border-free record this step
        self._free_seen = np.zeros(len(self.channels), np.bool_)

    def add(self, channel: str, origin: np.ndarray, destination: np.ndarray,
            amount: np.ndarray) -> None:
        """Add flows given per transaction (vectorised, summed into the place matrix).

        Parameters
        ----------
        channel : str
            Channel name.
        origin, destination : numpy.ndarray
            Place indices per transaction.
        amount : numpy.ndarray
            Amounts per transaction (non-negative).
        """
        prev = self.clock("recording")
        p = self.n_places
        idx = np.asarray(origin, np.int64) * p + np.asarray(destination, np.int64)
        mat = np.bincount(idx, weights=amount, minlength=p * p).reshape(p, p)
        self._flows_t[self._ch[channel]] += mat
        self.clock(prev)

    def add_matrix(self, channel: str, matrix: np.ndarray) -> None:
        """Add a place-by-place flow matrix (rows origin, columns destination)."""
        prev = self.clock("recording")
        self._flows_t[self._ch[channel]] += matrix
        self.clock(prev)

    def expect_free(self, channel: str, matrix: np.ndarray) -> None:
        """Store the border-free expected flow matrix of a chosen channel for this step."""
        prev = self.clock("recording")
        i = self._ch[channel]
        cur = self._free_t[i]
        # ``where(isnan(cur), 0, cur) + matrix`` in place: unset entries start from 0 (all of
        # them at the channel's first record of the step)
        if self._free_seen[i]:
            np.copyto(cur, 0.0, where=np.isnan(cur))
            np.add(cur, matrix, out=cur)
        else:
            self._free_seen[i] = True
            np.add(0.0, matrix, out=cur)
        self.clock(prev)

    def rows(self, channels: tuple[str | None, ...], accounts: tuple[str | None, ...] = ()
             ) -> tuple[np.ndarray, np.ndarray]:
        """Indices of channels and of accounts for :meth:`add_records` (-1 for ``None``; kept)."""
        key = (channels, accounts)
        got = self._rows.get(key)
        if got is None:
            got = (np.array([-1 if c is None else self._ch[c] for c in channels], np.int64),
                   np.array([-1 if a is None else self._ac[a] for a in accounts], np.int64))
            self._rows[key] = got
        return got

    def step_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The step's flows, accounts and expectations, and its channels with an expectation.

        For kernels that record as :func:`add_records` does (views of the book: writes to them
        are records; the last array is updated as expectations are added).
        """
        return self._flows_t, self._ledger_t, self._free_t, self._free_seen

    def add_records(self, channels: np.ndarray, matrices: np.ndarray, accounts: np.ndarray,
                    amounts: np.ndarray, free: np.ndarray, expected: np.ndarray) -> None:
        """Several records of the step in one compiled call (:func:`add_records`).

        In this order: ``add_matrix`` of ``matrices[k]`` on channel ``channels[k]``, ``account``
        of ``amounts[k]`` on account ``accounts[k]``, ``expect_free`` of ``expected[k]`` on
        channel ``free[k]`` (indices from :meth:`rows`; -1: skip record ``k``), with the same
        arithmetic.
        """
        prev = self.clock("recording")
        add_records(self._flows_t, channels, matrices, self._ledger_t, accounts, amounts,
                    self._free_t, self._free_seen, free, expected)
        self.clock(prev)

    def account(self, name: str, per_place: np.ndarray) -> None:
        """Add a source (positive) or sink (negative) per place to an account."""
        prev = self.clock("recording")
        self._ledger_t[self._ac[name]] += per_place
        self.clock(prev)

    def account_row(self, name: str) -> np.ndarray:
        """The step's row of an account (a view: adding to it is :meth:`account`), for kernels."""
        return self._ledger_t[self._ac[name]]

    def account_by(self, name: str, place: np.ndarray, amount: np.ndarray) -> None:
        """Add per-entity amounts to an account, summed by place."""
        prev = self.clock("recording")
        self._ledger_t[self._ac[name]] += np.bincount(place, weights=amount,
                                                      minlength=self.n_places)
        self.clock(prev)

    def factor_matrix(self, t: int, factor: str) -> np.ndarray:
        """Sum of all channels of ``factor`` at step ``t``, shape (P, P)."""
        return self.flows[t, self._factor_idx[factor]].sum(axis=0)

    def factor_channels(self, factor: str) -> list[int]:
        """Indices of the channels of a factor."""
        return list(self._factor_idx[factor])

    def account_total(self, t: int, factor: str) -> float:
        """Net of all sources and sinks of a factor at step ``t``."""
        idx = [i for i, a in enumerate(self.accounts) if a.factor == factor]
        return float(self.ledger[t, idx].sum())

    def to_frame(self, ids: list[str], steps: int) -> pd.DataFrame:
        """Tidy flows table: ``step, factor, channel, origin, destination, amount, unit``.

        Only non-zero entries are listed.
        """
        st, ch, o, d = np.nonzero(self.flows[:steps])
        factor = np.array([c.factor for c in self.channels], dtype=object)
        chname = np.array([c.name for c in self.channels], dtype=object)
        pid = np.array(ids, dtype=object)
        return pd.DataFrame({
            "step": st.astype(np.int64),
            "factor": factor[ch],
            "channel": chname[ch],
            "origin": pid[o],
            "destination": pid[d],
            "amount": self.flows[:steps][st, ch, o, d],
            "unit": np.array([UNITS[f] for f in factor[ch]], dtype=object),
        })

    def ledger_frame(self, ids: list[str], steps: int) -> pd.DataFrame:
        """Tidy sources and sinks: ``step, factor, account, place, amount`` (non-zero only)."""
        st, ac, p = np.nonzero(self.ledger[:steps])
        return pd.DataFrame({
            "step": st.astype(np.int64),
            "factor": np.array([self.accounts[i].factor for i in ac], dtype=object),
            "account": np.array([self.accounts[i].name for i in ac], dtype=object),
            "place": np.array(ids, dtype=object)[p],
            "amount": self.ledger[:steps][st, ac, p],
        })


@jit
def add_records(flows_t: np.ndarray, channels: np.ndarray, matrices: np.ndarray,
                ledger_t: np.ndarray, accounts: np.ndarray, amounts: np.ndarray,
                free_t: np.ndarray, seen: np.ndarray, free: np.ndarray,
                expected: np.ndarray) -> None:
    """:meth:`FlowBook.add_matrix`, :meth:`~FlowBook.account` and :meth:`~FlowBook.expect_free` calls.

    ``flows_t``, ``ledger_t`` and ``free_t`` are the step's slices of the book, ``seen`` its
    channels with a border-free record this step (updated). Record ``k`` adds ``matrices[k]``
    to channel ``channels[k]``, ``amounts[k]`` to account ``accounts[k]`` and the expectation
    ``expected[k]`` to channel ``free[k]`` (-1: none), in that order; the elementwise additions
    of the methods (an expectation starts from ``0 + x`` at the channel's first record of the
    step, later ones add to the entries with NaN read as 0).
    """
    p = flows_t.shape[1]
    for k in range(channels.shape[0]):
        c = channels[k]
        if c >= 0:
            for i in range(p):
                for j in range(p):
                    flows_t[c, i, j] += matrices[k, i, j]
    for k in range(accounts.shape[0]):
        a = accounts[k]
        if a >= 0:
            for i in range(ledger_t.shape[1]):
                ledger_t[a, i] += amounts[k, i]
    for k in range(free.shape[0]):
        c = free[k]
        if c < 0:
            continue
        if seen[c]:
            for i in range(p):
                for j in range(p):
                    x = free_t[c, i, j]
                    free_t[c, i, j] = (0.0 if x != x else x) + expected[k, i, j]
        else:
            seen[c] = True
            for i in range(p):
                for j in range(p):
                    free_t[c, i, j] = 0.0 + expected[k, i, j]


@register_warm_up
def warm_up() -> None:
    """Load (or compile) the recording kernel (see :func:`kernels.warm_up`)."""
    rows = np.zeros(1, np.int64)
    add_records(np.zeros((1, 2, 2)), rows, np.ones((3, 2, 2)), np.zeros((1, 2)), rows,
                np.ones((7, 2)), np.zeros((1, 2, 2)), np.zeros(1, np.bool_), rows,
                np.ones((2, 2, 2)))
