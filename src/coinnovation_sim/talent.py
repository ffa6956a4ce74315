"""Talent: quits, lay-offs, retirement, training, and hiring across places.

Talent lives in firms (persons per real firm) and in one job-seeker pool per place. Each month a
share of employees quits into the pool of the place where they work, firms above their target
talent lay off, a share retires (a recorded sink) and institutes train graduates into their
place's pool (a recorded source). Job seekers then apply to places by a logit-style choice over
destination wage and vacancies, damped by distance and administrative borders (the friction
kernel ``φ``), as in brain-drain ABMs (Gürsoy & Badur 2021); places with more applicants than
vacancies ration them. Hires are recorded origin pool → destination place (channel ``hire``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import random_draws
from .firm_passes import hire_pass, pool_turnover, separation_pass, vacancy_pass
from .kernels import split_by_location
from .matching import match_talent
from .production import shared_target_talent

if TYPE_CHECKING:
    from .model import CoinnovationModel


def by_location(model: CoinnovationModel, amount: np.ndarray,
                slots: np.ndarray | None = None) -> np.ndarray:
    """Sum per-firm talent amounts by the place where that talent works.

    A firm's unit staff (``unit_share``) works at its unit place, the rest at home; with every
    firm at home this is a sum by home place. With ``slots`` (ascending), ``amount`` belongs to
    those firm slots only (the other firms would add zeros, which change no sum).
    """
    f = model.firms
    p = model.n_places
    unit, home, share = f.unit_place, f.place, f.unit_share
    if slots is not None:
        unit, home, share = unit[slots], home[slots], share[slots]
    if not (unit != home).any():
        return np.bincount(unit, weights=amount, minlength=p)
    return split_by_location(unit, home, share, np.ascontiguousarray(amount, dtype=np.float64), p)


def separations(model: CoinnovationModel, tstar: np.ndarray, rng: np.random.Generator,
                split: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Quits and lay-offs into the local pool; retirement out of firms and pools; graduation.

    The per-firm part is one compiled pass (:func:`firm_passes.separation_pass`), which also
    finds the firms' vacancies after the separations. ``split``:
    :meth:`CoinnovationModel.any_away`, when known.

    Returns
    -------
    vac, vac_p : numpy.ndarray
        The vacancies per firm and by work location, as :func:`hiring` takes them.
    """
    f, prm, book = model.firms, model.prm, model.book
    noise = random_draws.gamma(rng, 4.0, 0.25, f.n)
    f.talent, to_pool, retired, vac, vac_p = separation_pass(
        f.talent, tstar, noise, f.alive, f.capital, model.firm_weight(), f.unit_place, f.place,
        f.unit_share, model.any_away() if split is None else split, float(prm["quit_rate"]),
        float(prm["hiring_speed"]), float(prm["retirement_rate"]), model.n_places)
    inst = model.institutes
    retirement, grads_p = pool_turnover(
        model.talent_pool, to_pool, retired, float(prm["retirement_rate"]),
        float(prm["graduation_rate"]), np.ascontiguousarray(inst.researchers, dtype=np.float64),
        np.ascontiguousarray(model.inst_weight(), dtype=np.float64), inst.place)
    book.account("retirement", retirement)
    book.account("graduation", grads_p)
    return vac, vac_p


def hiring(model: CoinnovationModel, tstar: np.ndarray, split: bool | None = None,
           vacancies: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Match the places' job seekers to firms' vacancies (place-level, rationed).

    The per-firm parts are compiled passes (:func:`firm_passes.vacancy_pass`,
    :func:`firm_passes.hire_pass`). ``split``: :meth:`CoinnovationModel.any_away`, when known;
    ``vacancies``: the vacancies per firm and by work location of the current state, when known
    (:func:`separations` returns them).
    """
    f, prm, book = model.firms, model.prm, model.book
    w = model.firm_weight()
    split = model.any_away() if split is None else split
    if vacancies is None:
        vacancies = vacancy_pass(f.talent, tstar, f.alive, f.capital, w, f.unit_place, f.place,
                                 f.unit_share, split, float(prm["hiring_speed"]), model.n_places)
    vac, vac_p = vacancies
    # pull wage^e_w · vacancies^e_v; the hired leave the pools
    hires, free, fill = match_talent(
        model.talent_pool, float(prm["search_intensity"]), model.phi["talent"], model.phi_free,
        model.wage ** prm["wage_elasticity"],
        np.power(np.maximum(vac_p, 1e-300), prm["vacancy_elasticity"]), vac_p)
    f.talent, home_mat = hire_pass(f.talent, vac, fill, w, f.unit_place, f.place, f.unit_share,
                                   split, model.n_places)
    if split:
        home = model.home_share_matrix(home_mat)
        hires, free = hires @ home, free @ home
    book.add_matrix("hire", hires)
    book.expect_free("hire", free)


def step(model: CoinnovationModel, rng: np.random.Generator) -> None:
    """One month of talent dynamics."""
    # read-only target talent; whether units operate away (they move in the mechanisms' hooks,
    # not in this stage)
    tstar, split = shared_target_talent(model)
    vacancies = separations(model, tstar, rng, split)
    hiring(model, tstar, split, vacancies)
