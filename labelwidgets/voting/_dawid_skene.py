"""Dawid-Skene: one confusion matrix per rater, estimated by EM, and a posterior per item.

The model (Dawid and Skene, 1979): an item's true class ``c`` is drawn from the class priors
``p``; rater ``r`` answers ``l`` with probability ``E[r, l, c]``, independently of the other
raters. EM alternates the posterior of every item's class given the votes (E-step) and the
priors and confusion matrices given those posteriors (M-step).

The fit follows crowd-kit's ``DawidSkene`` step for step, so that both give the same labels
and posteriors on the same data and iterations: the majority-vote shares as the first
posteriors, a confusion cell of an answer the rater gave clipped below at 1e-10 (an answer
they never gave has no cell), priors clipped likewise in the E-step, and the stopping rule on
its evidence lower bound per vote (stop when it grows by less than ``tol``).

What makes it fast: the likelihood of an item depends on its votes only, so items with the
same votes (the same raters giving the same answers: a *vote pattern*) share one posterior.
EM runs over the distinct patterns, each weighted by how many items have it (100,000 items of
5 raters and 4 classes have at most 4**5 = 1,024 patterns), with the votes of the patterns as
one sparse matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _votes

_EPS = 1e-10


@dataclass(frozen=True)
class DawidSkeneFit:
    """The result of :func:`fit_dawid_skene` (arrays indexed by the codes passed in).

    Attributes
    ----------
    posteriors : numpy.ndarray, shape (n_items, n_classes)
        Each item's posterior class probabilities (rows sum to 1).
    priors : numpy.ndarray, shape (n_classes,)
        The class priors (the mean posterior).
    errors : numpy.ndarray, shape (n_raters, n_classes, n_classes)
        ``errors[r, l, c]``: the probability that rater ``r`` answers ``l`` when the truth is
        ``c`` (each column ``errors[r, :, c]`` sums to 1).
    n_iter : int
        EM iterations run.
    """

    posteriors: np.ndarray
    priors: np.ndarray
    errors: np.ndarray
    n_iter: int


def fit_dawid_skene(
    item: np.ndarray,
    rater: np.ndarray,
    label: np.ndarray,
    n_items: int,
    n_raters: int,
    n_classes: int,
    n_iter: int = 100,
    tol: float = 1e-5,
) -> DawidSkeneFit:
    """Fit Dawid-Skene to integer-coded votes (one vote per rater and item at most).

    Parameters
    ----------
    item, rater, label : numpy.ndarray of int
        Each vote's item code ``0 .. n_items - 1`` (every item has a vote), rater code and
        class code ``0 .. n_classes - 1``.
    n_items, n_raters, n_classes : int
        How many codes there are.
    n_iter : int, default=100
        The most EM iterations.
    tol : float, default=1e-5
        Stop when the evidence lower bound per vote grows by less than this.

    Returns
    -------
    DawidSkeneFit

    Examples
    --------
    >>> item = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    >>> rater = np.array([0, 1, 2] * 3)
    >>> label = np.array([0, 0, 1, 1, 1, 1, 0, 0, 0])
    >>> fit = fit_dawid_skene(item, rater, label, 3, 3, 2)
    >>> fit.posteriors.argmax(axis=1).tolist()
    [0, 1, 0]
    """
    from scipy import sparse

    n = np.bincount(item, minlength=n_items)
    pattern, codes = _votes.patterns(
        item, n, rater, np.arange(n_raters, dtype=np.int64), label, n_classes
    )
    n_patterns = len(codes)
    weight = np.bincount(pattern, minlength=n_patterns).astype(float)  # items per pattern
    present = codes != n_raters * n_classes
    vote_pattern = np.nonzero(present)[0]
    vote_code = codes[present]  # rater * n_classes + answer, grouped by pattern
    # votes[p, r * K + l] = 1 when pattern p holds rater r answering l
    votes = sparse.csr_matrix(
        (np.ones(len(vote_code)), (vote_pattern, vote_code)),
        shape=(n_patterns, n_raters * n_classes),
    )
    votes_t = votes.T.tocsr()
    per_pattern = np.asarray(votes.sum(axis=1)).ravel()  # votes in each pattern
    given = np.zeros(n_raters * n_classes, dtype=bool)  # answers each rater gave at all
    given[vote_code] = True
    n_total, n_votes = weight.sum(), float(weight @ per_pattern)

    def m_step(post: np.ndarray) -> np.ndarray:
        counts = votes_t @ (post * weight[:, None])  # (rater * answer) x true class
        counts = np.where(given[:, None], np.maximum(counts, _EPS), 0.0)
        counts = counts.reshape(n_raters, n_classes, n_classes)
        return counts / counts.sum(axis=1, keepdims=True)

    def log_votes(errors: np.ndarray) -> np.ndarray:
        log_err = np.zeros(n_raters * n_classes * n_classes)
        flat = errors.reshape(-1)
        log_err[flat > 0] = np.log(flat[flat > 0])  # answers never given are never looked up
        return votes @ log_err.reshape(n_raters * n_classes, n_classes)

    def e_step(loglik_votes: np.ndarray, priors: np.ndarray) -> np.ndarray:
        loglik = loglik_votes + np.log(np.maximum(priors, _EPS))
        loglik -= loglik.max(axis=1, keepdims=True)
        post = np.exp(loglik)
        return post / post.sum(axis=1, keepdims=True)

    def lower_bound(post: np.ndarray, loglik_votes: np.ndarray, priors: np.ndarray) -> float:
        # crowd-kit's bound: the prior term counted once per vote, probabilities clipped
        log_prior = np.log(np.maximum(priors, _EPS))
        joint = np.sum(post * (loglik_votes + per_pattern[:, None] * log_prior), axis=1)
        clipped = np.maximum(post, _EPS)
        entropy = -np.sum(clipped * np.log(clipped), axis=1)
        return float(weight @ (joint + entropy)) / n_votes

    post = np.zeros((n_patterns, n_classes))  # majority vote shares
    np.add.at(post, (vote_pattern, vote_code % n_classes), 1.0)
    post /= per_pattern[:, None]
    priors = weight @ post / n_total
    errors = m_step(post)
    loglik_votes = log_votes(errors)
    loss, done = -np.inf, 0
    for _ in range(n_iter):
        post = e_step(loglik_votes, priors)
        priors = weight @ post / n_total
        errors = m_step(post)
        loglik_votes = log_votes(errors)
        done += 1
        new_loss = lower_bound(post, loglik_votes, priors)
        if new_loss - loss < tol:
            break
        loss = new_loss
    return DawidSkeneFit(post[pattern], priors, errors, done)
