"""Evidence an auditor can check: a hash-chained log of every decision event, and an Ed25519-signed head."""
