"""A small MovieLens-shaped world with known structure, for tests and quick demos.

Ratings come from a low-rank model plus item popularity and noise, users have a gender
(about 30% "F", like MovieLens) whose taste differs along one factor, and which items a
user rated is popularity-biased, as in real logs. ``write_atomic`` writes the frames in
the recbole atomic format, so ``data.load`` reads them as it reads the real files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from loopwatch.tasks.recsys.data import MovieLens


def synthetic_movielens(n_users: int = 120, n_items: int = 200, per_user: int = 30,
                        seed: int = 0) -> MovieLens:
    rng = np.random.default_rng(seed)
    gender = np.where(rng.random(n_users) < 0.3, "F", "M")
    u = rng.normal(0, 0.6, (n_users, 3))
    u[:, 0] += np.where(gender == "F", 0.8, -0.3)  # groups differ along one taste factor
    v = rng.normal(0, 0.6, (n_items, 3))
    quality = rng.normal(0, 0.5, n_items)
    popularity = np.exp(rng.normal(0, 1.0, n_items) + quality)
    rows = []
    for user in range(n_users):
        items = rng.choice(n_items, per_user, replace=False, p=popularity / popularity.sum())
        mean = 3.5 + quality[items] + u[user] @ v[items].T
        stars = np.clip(np.rint(mean + rng.normal(0, 0.4, per_user)), 1, 5)
        rows += [(user + 1, int(i) + 1, float(r), 880_000_000 + len(rows))
                 for i, r in zip(items, stars, strict=True)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    ratings = ratings.astype({"rating": "float32"})
    users = pd.DataFrame({"user_id": np.arange(1, n_users + 1),
                          "age": rng.integers(18, 70, n_users), "gender": gender,
                          "occupation": "other", "zip_code": "00000"})
    items = pd.DataFrame({"item_id": np.arange(1, n_items + 1),
                          "title": [f"Movie {i}" for i in range(1, n_items + 1)],
                          "year": "1995", "genres": "Drama"})
    return MovieLens(ratings, users, items)


def write_atomic(ml: MovieLens, folder: Path) -> Path:
    """The three recbole atomic files (``ml-100k.inter/.user/.item``) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    inter = ml.ratings.rename(columns={"user_id": "user_id:token", "item_id": "item_id:token",
                                       "rating": "rating:float", "timestamp": "timestamp:float"})
    inter.to_csv(folder / "ml-100k.inter", sep="\t", index=False)
    users = ml.users.rename(columns=lambda c: f"{c}:token")
    users.to_csv(folder / "ml-100k.user", sep="\t", index=False)
    items = pd.DataFrame({"item_id:token": ml.items["item_id"],
                          "movie_title:token_seq": ml.items["title"],
                          "release_year:token": ml.items["year"],
                          "class:token_seq": ml.items["genres"].str.replace("|", " ")})
    items.to_csv(folder / "ml-100k.item", sep="\t", index=False)
    return folder
