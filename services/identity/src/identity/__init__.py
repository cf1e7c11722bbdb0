"""Identity service: accounts, account tree, device registry, tokens, API keys, share links."""
