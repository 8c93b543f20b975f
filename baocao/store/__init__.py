"""Where baocao remembers what it did: the ledger of files, outcomes, submissions and messages."""
