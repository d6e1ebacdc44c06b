"""The command line's topics beyond API tokens: approval policy (`policy`) and accounts (`user`)."""
