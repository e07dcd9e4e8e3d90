"""HTTP: the only users of aiohttp's client, with retries and raw responses."""
