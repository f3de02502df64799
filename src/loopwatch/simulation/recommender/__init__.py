"""The recommender feedback loop (Chaney et al., Mansoury et al.): users consume from
the top-k of a model retrained on what it showed, beside a random and an ideal arm."""
