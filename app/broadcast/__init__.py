"""The broadcast log: append-only, hash-chained proof of what each station aired."""
