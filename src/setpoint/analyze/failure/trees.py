"""Evaluate a saved XGBoost model with numpy alone, so the agent never imports xgboost.

``import xgboost`` brings pandas, scipy and scikit-learn with it: about 128 MiB of
resident memory, more than the agent's whole budget. The model the failure predictor
saves is small (a binary logistic ``gbtree`` of shallow trees), and walking it is a
few array operations per tree level for every row and tree at once. The tests check
the probabilities and the contributions against xgboost's own ``predict``.

Splits follow XGBoost's rule: features are compared as float32, ``x < threshold``
goes left, a missing value (NaN) goes the node's default way. Contributions are
Saabas' (xgboost's ``approx_contribs``): along each row's path, the change of the
node's mean value is credited to the feature split on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class TreeEnsemble:
    """Every tree's nodes in flat arrays; a leaf points to itself on both sides."""

    base_margin: float
    roots: NDArray[np.intp]
    left: NDArray[np.intp]
    right: NDArray[np.intp]
    feature: NDArray[np.intp]
    threshold: NDArray[np.float32]
    default_left: NDArray[np.bool_]
    leaf: NDArray[np.bool_]
    value: NDArray[np.float64]
    """A leaf's output; for an inner node, the mean of its leaves weighted by hessian."""
    depth: int
    n_features: int

    @classmethod
    def from_xgboost(cls, doc: Mapping[str, Any]) -> TreeEnsemble:
        """Read the document ``Booster.save_model("x.json")`` writes; ValueError if unusable."""
        try:
            learner = doc["learner"]
            objective = learner["objective"]["name"]
            booster = learner["gradient_booster"]
            params = learner["learner_model_param"]
            if objective != "binary:logistic" or booster["name"] != "gbtree":
                raise ValueError(f"{objective} {booster['name']} is not a binary logistic gbtree")
            base = float(str(params["base_score"]).strip("[]"))
            n_features = int(params["num_feature"])
            parts = [_tree(t) for t in booster["model"]["trees"]]
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"not an XGBoost model document: missing or bad {exc}") from exc
        if not parts or not 0.0 < base < 1.0:
            raise ValueError("the model has no trees or no usable base score")
        offsets = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
        cat = np.concatenate
        left = cat([_to_self(p[0]) + o for p, o in zip(parts, offsets, strict=True)])
        right = cat([_to_self(p[1]) + o for p, o in zip(parts, offsets, strict=True)])
        feature = cat([p[2] for p in parts])
        if feature.size and (feature.min() < 0 or feature.max() >= n_features):
            raise ValueError("a split names a feature the model does not have")
        return cls(
            base_margin=math.log(base / (1.0 - base)),
            roots=offsets.astype(np.intp),
            left=left.astype(np.intp),
            right=right.astype(np.intp),
            feature=feature.astype(np.intp),
            threshold=cat([p[3] for p in parts]).astype(np.float32),
            default_left=cat([p[4] for p in parts]).astype(bool),
            leaf=cat([p[0] < 0 for p in parts]),
            value=cat([p[5] for p in parts]),
            depth=max(p[6] for p in parts),
            n_features=n_features,
        )

    def _walk(
        self, x: NDArray[np.float64], credit: NDArray[np.float64] | None = None
    ) -> NDArray[np.intp]:
        """Each row's leaf in each tree; adds the Saabas contributions to ``credit`` if given."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"rows must have {self.n_features} features, not shape {x.shape}")
        xs = x.astype(np.float32)
        rows = np.arange(len(xs))[:, None]
        node = np.broadcast_to(self.roots, (len(xs), len(self.roots))).copy()
        for _ in range(self.depth):
            feature = self.feature[node]
            seen = xs[rows, feature]
            go_left = np.where(np.isnan(seen), self.default_left[node], seen < self.threshold[node])
            child = np.where(go_left, self.left[node], self.right[node])
            if credit is not None:
                delta = np.where(self.leaf[node], 0.0, self.value[child] - self.value[node])
                np.add.at(credit, (np.broadcast_to(rows, node.shape), feature), delta)
            node = child
        return node

    def margin(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The log-odds of each row."""
        margin: NDArray[np.float64] = self.base_margin + self.value[self._walk(x)].sum(axis=1)
        return margin

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The probability of each row (the logistic of its margin)."""
        return 1.0 / (1.0 + np.exp(-self.margin(x)))

    def contributions(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each feature's share of each row's margin, plus a last column for the bias."""
        credit = np.zeros((len(x), self.n_features))
        self._walk(x, credit)
        bias = self.base_margin + float(self.value[self.roots].sum())
        return np.hstack([credit, np.full((len(x), 1), bias)])


_Tree = tuple[
    NDArray[np.intp],
    NDArray[np.intp],
    NDArray[np.intp],
    NDArray[np.float64],
    NDArray[np.bool_],
    NDArray[np.float64],
    int,
]


def _tree(tree: Mapping[str, Any]) -> _Tree:
    """One tree's children, split features, thresholds, default ways, node means, depth."""
    left = np.asarray(tree["left_children"], dtype=np.intp)
    right = np.asarray(tree["right_children"], dtype=np.intp)
    feature = np.asarray(tree["split_indices"], dtype=np.intp)
    condition = np.asarray(tree["split_conditions"], dtype=float)
    default_left = np.asarray(tree["default_left"], dtype=bool)
    hessian = np.asarray(tree["sum_hessian"], dtype=float)
    n = len(left)
    if n == 0 or any(len(a) != n for a in (right, feature, condition, default_left, hessian)):
        raise ValueError("a tree's node arrays differ in length")
    if left.max() >= n or right.max() >= n or ((left < 0) != (right < 0)).any():
        raise ValueError("a tree's children point outside it")
    mean = np.zeros(n)
    depth = np.zeros(n, dtype=int)
    order = _preorder(left, right)
    for node in order:
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    for node in reversed(order):
        if left[node] < 0:
            mean[node] = condition[node]
        else:
            a, b = left[node], right[node]
            weighted = mean[a] * hessian[a] + mean[b] * hessian[b]
            mean[node] = weighted / hessian[node] if hessian[node] > 0 else 0.0
    return (
        left,
        right,
        np.where(left < 0, 0, feature),
        condition,
        default_left,
        mean,
        int(depth.max()),
    )


def _to_self(children: NDArray[np.intp]) -> NDArray[np.intp]:
    """Children with a leaf's -1 replaced by the leaf itself, so a walk stays put there."""
    return np.where(children < 0, np.arange(len(children)), children)


def _preorder(left: NDArray[np.intp], right: NDArray[np.intp]) -> list[int]:
    """Nodes from the root down, each before its children; ValueError on a cycle."""
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if len(order) > len(left):
            raise ValueError("a tree's nodes form a cycle")
        if left[node] >= 0:
            stack += [int(left[node]), int(right[node])]
    return order
