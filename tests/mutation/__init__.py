"""`make mutate`: mutation testing of the modules behind README's "What a sync
guarantees" (docs/mutation.md). Not part of the suite: pytest collects nothing here."""
