"""A trained collab model as something that predicts ratings and recommends top-k.

Holds the id maps (raw MovieLens ids -> embedding rows, 0 = unknown), the network and the
items each user already rated (never recommended again). Saved as JSON + a state dict, so
loading needs no pickle and no training code beyond ``model``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from loopwatch.tasks.recsys.model import CollabConfig, build_net


@dataclass(frozen=True)
class IdIndex:
    """Raw ids in embedding order: id ``ids[i]`` is row ``i + 1``; row 0 is "unknown"."""

    ids: tuple[int, ...]

    @classmethod
    def of(cls, values) -> IdIndex:
        return cls(tuple(int(v) for v in pd.unique(np.sort(np.asarray(values)))))

    def __len__(self) -> int:
        return len(self.ids) + 1

    def encode(self, values) -> np.ndarray:
        return pd.Index(self.ids).get_indexer(np.asarray(values, dtype="int64")) + 1


@dataclass
class CollabPredictor:
    config: CollabConfig
    users: IdIndex
    items: IdIndex
    net: torch.nn.Module
    seen: dict[int, list[int]] = field(default_factory=dict)  # user -> items rated in training
    titles: dict[int, str] = field(default_factory=dict)  # item -> title, for people

    @torch.no_grad()
    def predict(self, users, items) -> np.ndarray:
        """Predicted ratings for (user, item) pairs of raw ids; unknown ids use slot 0."""
        self.net.eval()
        u = torch.from_numpy(self.users.encode(users))
        i = torch.from_numpy(self.items.encode(items))
        return self.net(u, i).numpy().astype(float)

    @torch.no_grad()
    def score_matrix(self, users) -> np.ndarray:
        """Predicted ratings of every catalogue item (``items.ids`` order) for each user."""
        self.net.eval()
        rows = [self.net.score_all_items(int(u))[1:] for u in self.users.encode(users)]
        if not rows:
            return np.zeros((0, len(self.items) - 1))
        return torch.stack(rows).numpy().astype(float)

    def recommend(self, user: int, k: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``k`` items with the highest predicted rating, best first.

        An unknown user (cold start) is scored with the unknown slot: its factors are
        untrained, so the ranking falls back to the item biases, i.e. broadly liked items.
        """
        scores = self.score_matrix([user])[0]
        ids = np.asarray(self.items.ids)
        if exclude_seen:
            scores = np.where(np.isin(ids, self.seen.get(int(user), [])), -np.inf, scores)
        k = min(k, int(np.isfinite(scores).sum()))
        top = np.argsort(-scores, kind="stable")[:k]
        return pd.DataFrame({"item_id": ids[top], "title": [self.titles.get(int(i), "")
                                                             for i in ids[top]],
                             "score": scores[top], "rank": np.arange(1, len(top) + 1)})

    def slate(self, user: int, k: int, epsilon: float, rng: np.random.Generator) -> pd.DataFrame:
        """The served slate (``serving.policy.decide_slate``): the top-k unseen items, or with
        probability ``epsilon`` k uniformly random unseen ones, each with its propensity."""
        from loopwatch.serving.policy import decide_slate

        top = self.recommend(user, k)
        ids = np.asarray(self.items.ids)
        unseen = ids[~np.isin(ids, self.seen.get(int(user), []))]
        chosen = decide_slate(top["item_id"].to_numpy(), unseen, epsilon, rng)
        if chosen.explored:
            scores = dict(zip(ids, self.score_matrix([user])[0], strict=True))
            slate = pd.DataFrame({"item_id": chosen.items,
                                  "title": [self.titles.get(int(i), "") for i in chosen.items],
                                  "score": [scores[i] for i in chosen.items],
                                  "rank": np.arange(1, len(chosen.items) + 1)})
        else:
            slate = top
        return slate.assign(propensity=chosen.propensity, exploration=chosen.explored)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The pyfunc contract: (user_id, item_id) rows -> a ``rating`` column."""
        missing = {"user_id", "item_id"} - set(frame.columns)
        if missing:
            raise ValueError(f"input needs columns user_id and item_id; missing {sorted(missing)}")
        return pd.DataFrame({"rating": self.predict(frame["user_id"], frame["item_id"])})

    def knows(self, user: int) -> bool:
        return int(self.users.encode([user])[0]) > 0

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"config": self.config.to_dict(), "users": list(self.users.ids),
                "items": list(self.items.ids), "seen": {str(u): v for u, v in self.seen.items()},
                "titles": {str(i): t for i, t in self.titles.items()}}
        (folder / "collab.json").write_text(json.dumps(meta))
        torch.save(self.net.state_dict(), folder / "weights.pt")
        return folder

    @classmethod
    def load(cls, folder: Path) -> CollabPredictor:
        meta = json.loads((folder / "collab.json").read_text())
        config = CollabConfig(**meta["config"])
        net = build_net(config)
        net.load_state_dict(torch.load(folder / "weights.pt", map_location="cpu",
                                       weights_only=True))
        seen = {int(u): v for u, v in meta["seen"].items()}
        titles = {int(i): t for i, t in meta.get("titles", {}).items()}
        return cls(config, IdIndex(tuple(meta["users"])), IdIndex(tuple(meta["items"])),
                   net.eval(), seen, titles)


def seen_items(ratings: pd.DataFrame) -> dict[int, list[int]]:
    return {int(u): sorted(map(int, g)) for u, g in ratings.groupby("user_id")["item_id"]}
